import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';

const layoutUniforms = [
  ['S', 'u32'], ['H', 'u32'], ['KVH', 'u32'], ['D', 'u32'],
  ['ldq', 'u32'], ['ldk', 'u32'], ['ldv', 'u32'], ['ldo', 'u32'],
  ['q_off', 'u32'], ['k_off', 'u32'], ['v_off', 'u32'], ['scale', 'f32'],
] as const;

const forwardKernel = defineKernel({
  name: 'attention-forward', shaders: ['common_reduce.wgsl', 'common_attention.wgsl', 'attention_forward.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage', 'storage'], uniforms: layoutUniforms,
});
const backwardQKernel = defineKernel({
  name: 'attention-backward-q', shaders: ['common_reduce.wgsl', 'common_attention.wgsl', 'attention_backward_q.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'read', 'storage', 'storage'], uniforms: layoutUniforms,
});
const backwardKVKernel = defineKernel({
  name: 'attention-backward-kv', shaders: ['attention_backward_kv.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'storage'],
  uniforms: [
    ['S', 'u32'], ['H', 'u32'], ['KVH', 'u32'], ['D', 'u32'],
    ['ldx', 'u32'], ['x_off', 'u32'], ['ldout', 'u32'], ['out_off', 'u32'], ['alpha', 'f32'],
  ],
});

/**
 * Where Q, K and V live: rows of [B·S, ld] at a column offset. Llama has three buffers; GPT-2
 * one c_attn output [B·S, 3·H·D] with offsets 0, H·D and 2·H·D.
 */
export interface AttentionLayout {
  readonly B: number;
  readonly S: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly ldq: number;
  readonly ldk: number;
  readonly ldv: number;
  readonly qOffset: number;
  readonly kOffset: number;
  readonly vOffset: number;
}

function layoutUniformValues(l: AttentionLayout): Record<string, number> {
  return {
    S: l.S, H: l.heads, KVH: l.kvHeads, D: l.headDim,
    ldq: l.ldq, ldk: l.ldk, ldv: l.ldv, ldo: l.heads * l.headDim,
    q_off: l.qOffset, k_off: l.kOffset, v_off: l.vOffset, scale: 1 / Math.sqrt(l.headDim),
  };
}

/** o [B·S, H·D] = softmax(causal(Q Kᵀ / √D)) V; probabilities p [B, H, S, S] are saved. */
export function attentionForward(
  rt: GpuRuntime, l: AttentionLayout, q: Tensor, k: Tensor, v: Tensor, o: Tensor, p: Tensor,
): void {
  rt.dispatch(forwardKernel, {
    bind: [q, k, v, o, p], uniforms: layoutUniformValues(l), workgroups: [l.S, l.heads, l.B],
  });
}

export interface AttentionGrads {
  readonly dq: Tensor;
  readonly dk: Tensor;
  readonly dv: Tensor;
  /** Scratch [B, H, S, S] for dS. */
  readonly ds: Tensor;
}

/**
 * dQ, dK, dV from dO. They are written in the same layout (ld, offsets) as Q, K, V, so for
 * GPT-2 all three may be the one dqkv buffer.
 */
export function attentionBackward(
  rt: GpuRuntime, l: AttentionLayout, q: Tensor, k: Tensor, v: Tensor, p: Tensor, dout: Tensor, g: AttentionGrads,
): void {
  const u = layoutUniformValues(l);
  rt.dispatch(backwardQKernel, { bind: [k, v, p, dout, g.ds, g.dq], uniforms: u, workgroups: [l.S, l.heads, l.B] });
  const common = { S: l.S, H: l.heads, KVH: l.kvHeads, D: l.headDim };
  rt.dispatch(backwardKVKernel, {
    bind: [g.ds, q, g.dk],
    uniforms: { ...common, ldx: l.ldq, x_off: l.qOffset, ldout: l.ldk, out_off: l.kOffset, alpha: u.scale },
    workgroups: [l.S, l.kvHeads, l.B],
  });
  rt.dispatch(backwardKVKernel, {
    bind: [p, dout, g.dv],
    uniforms: { ...common, ldx: l.heads * l.headDim, x_off: 0, ldout: l.ldv, out_off: l.vOffset, alpha: 1 },
    workgroups: [l.S, l.kvHeads, l.B],
  });
}
