import { defineKernel } from '../gpu/kernel';
import { grid, type GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';

const layoutUniforms = [
  ['S', 'u32'],
  ['H', 'u32'],
  ['KVH', 'u32'],
  ['D', 'u32'],
  ['ldq', 'u32'],
  ['ldk', 'u32'],
  ['ldv', 'u32'],
  ['ldo', 'u32'],
  ['q_off', 'u32'],
  ['k_off', 'u32'],
  ['v_off', 'u32'],
  ['scale', 'f32'],
  ['B', 'u32'],
  ['window', 'u32'],
] as const;
const kvUniforms = [
  ['S', 'u32'],
  ['H', 'u32'],
  ['KVH', 'u32'],
  ['D', 'u32'],
  ['ldx', 'u32'],
  ['x_off', 'u32'],
  ['ldout', 'u32'],
  ['out_off', 'u32'],
  ['alpha', 'f32'],
  ['B', 'u32'],
] as const;

const forwardKernel = defineKernel({
  name: 'attention-forward',
  shaders: ['common_reduce.wgsl', 'common_attention.wgsl', 'attention_forward.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage', 'storage'],
  uniforms: layoutUniforms,
});
const backwardQKernel = defineKernel({
  name: 'attention-backward-q',
  shaders: ['common_reduce.wgsl', 'common_attention.wgsl', 'attention_backward_q.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'read', 'storage', 'storage'],
  uniforms: layoutUniforms,
});
const backwardKVKernel = defineKernel({
  name: 'attention-backward-kv',
  shaders: ['attention_kv_io.wgsl', 'attention_backward_kv.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'storage'],
  uniforms: kvUniforms,
});

// The serial kernels for CPU adapters (KernelProfile.rows 'serial'), bit-identical to the ones above.
const SERIAL_COMMON = ['common_reduce_serial.wgsl', 'common_load_x4.wgsl', 'common_attention.wgsl', 'common_attention_serial.wgsl'];
const forwardSerialKernel = defineKernel({
  name: 'attention-forward-serial',
  shaders: [...SERIAL_COMMON, 'attention_forward_serial.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage', 'storage'],
  uniforms: layoutUniforms,
});
const backwardQSerialKernel = defineKernel({
  name: 'attention-backward-q-serial',
  shaders: [...SERIAL_COMMON, 'attention_backward_q_serial.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage', 'storage', 'read'],
  uniforms: layoutUniforms,
});
const backwardKVSerialKernel = defineKernel({
  name: 'attention-backward-kv-serial',
  shaders: ['common_reduce_serial.wgsl', 'common_load_x4.wgsl', 'attention_kv_io.wgsl', 'attention_backward_kv_serial.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'storage'],
  uniforms: kvUniforms,
});
/** Rows per serial invocation and invocations per workgroup (common_attention_serial.wgsl). */
const SERIAL_ROWS = 4;
const SERIAL_WG = 16;

function serialGroups(S: number, heads: number, B: number): [number, number] {
  return grid(Math.ceil((Math.ceil(S / SERIAL_ROWS) * heads * B) / SERIAL_WG));
}

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
  /** Scores are multiplied by this; 1/√headDim when absent. */
  readonly scale?: number;
  /** Sliding window: query i sees keys j with i − j < window; absent or 0 for full causal attention. */
  readonly window?: number;
}

function layoutUniformValues(l: AttentionLayout) {
  return {
    S: l.S,
    H: l.heads,
    KVH: l.kvHeads,
    D: l.headDim,
    ldq: l.ldq,
    ldk: l.ldk,
    ldv: l.ldv,
    ldo: l.heads * l.headDim,
    q_off: l.qOffset,
    k_off: l.kOffset,
    v_off: l.vOffset,
    scale: l.scale ?? 1 / Math.sqrt(l.headDim),
    B: l.B,
    window: l.window ?? 0,
  };
}

/** o [B·S, H·D] = softmax(causal(Q Kᵀ · scale)) V (within the window); probabilities p [B, H, S, S] are saved. */
export function attentionForward(rt: GpuRuntime, l: AttentionLayout, q: Tensor, k: Tensor, v: Tensor, o: Tensor, p: Tensor): void {
  const serial = rt.profile.rows === 'serial';
  rt.dispatch(serial ? forwardSerialKernel : forwardKernel, {
    bind: [q, k, v, o, p],
    uniforms: layoutUniformValues(l),
    workgroups: serial ? serialGroups(l.S, l.heads, l.B) : [l.S, l.heads, l.B],
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
  rt: GpuRuntime,
  l: AttentionLayout,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  p: Tensor,
  dout: Tensor,
  g: AttentionGrads,
): void {
  const u = layoutUniformValues(l);
  const serial = rt.profile.rows === 'serial';
  if (serial) {
    // Role order of common_attention_serial.wgsl: A = dO, Bk = V, X = K, out = dQ, W = dS, then P.
    rt.dispatch(backwardQSerialKernel, {
      bind: [dout, v, k, g.dq, g.ds, p],
      uniforms: u,
      workgroups: serialGroups(l.S, l.heads, l.B),
    });
  } else {
    rt.dispatch(backwardQKernel, { bind: [k, v, p, dout, g.ds, g.dq], uniforms: u, workgroups: [l.S, l.heads, l.B] });
  }
  const kv = serial ? backwardKVSerialKernel : backwardKVKernel;
  const workgroups = serial ? serialGroups(l.S, l.kvHeads, l.B) : ([l.S, l.kvHeads, l.B] as const);
  const common = { S: l.S, H: l.heads, KVH: l.kvHeads, D: l.headDim, B: l.B };
  rt.dispatch(kv, {
    bind: [g.ds, q, g.dk],
    uniforms: { ...common, ldx: l.ldq, x_off: l.qOffset, ldout: l.ldk, out_off: l.kOffset, alpha: u.scale },
    workgroups,
  });
  rt.dispatch(kv, {
    bind: [p, dout, g.dv],
    uniforms: { ...common, ldx: l.heads * l.headDim, x_off: 0, ldout: l.ldv, out_off: l.vOffset, alpha: 1 },
    workgroups,
  });
}

const keyBiasGradKernel = defineKernel({
  name: 'attention-key-bias-grad',
  shaders: ['common_reduce.wgsl', 'attention_key_bias_grad.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'read', 'storage'],
  uniforms: [
    ['S', 'u32'],
    ['H', 'u32'],
    ['KVH', 'u32'],
    ['D', 'u32'],
    ['B', 'u32'],
    ['ldq', 'u32'],
    ['scale', 'f32'],
  ],
});

/**
 * db [KVH·D] += d loss/d (key bias before RoPE), from dS (attentionBackward's `ds`) and q after
 * RoPE, in the cancellation-free form of attention_key_bias_grad.wgsl. Use it instead of the
 * column sums of dK for a k_proj bias under RoPE (full-rank training of Qwen2).
 */
export function keyBiasGrad(rt: GpuRuntime, l: AttentionLayout, ds: Tensor, q: Tensor, cos: Tensor, sin: Tensor, db: Tensor): void {
  rt.dispatch(keyBiasGradKernel, {
    bind: [ds, q, cos, sin, db],
    uniforms: { S: l.S, H: l.heads, KVH: l.kvHeads, D: l.headDim, B: l.B, ldq: l.ldq, scale: l.scale ?? 1 / Math.sqrt(l.headDim) },
    workgroups: [l.headDim / 2, l.kvHeads],
  });
}
