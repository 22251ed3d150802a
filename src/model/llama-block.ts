import type { ModelConfig } from '../formats/hf-config';
import type { Tensor } from '../gpu/tensor';
import { type AttentionLayout, attentionBackward, attentionForward } from '../kernels/attention';
import { add, swigluBackward, swigluForward } from '../kernels/elementwise';
import { rmsnormBackward, rmsnormForward } from '../kernels/norms';
import { rope } from '../kernels/rope';
import { backwardReadsInput, type Block, keepIf, linearBackward, linearForward, normParamsBackward, type PassContext } from './context';
import type { FrozenLinear } from './linear';

export interface LlamaLayerWeights {
  readonly inputNorm: Tensor;
  readonly postNorm: Tensor;
  readonly q: FrozenLinear;
  readonly k: FrozenLinear;
  readonly v: FrozenLinear;
  readonly o: FrozenLinear;
  readonly gate: FrozenLinear;
  readonly up: FrozenLinear;
  readonly down: FrozenLinear;
}

/** What backward reads. The inputs of linear layers are null when nothing reads them (backwardReadsInput). */
interface Saved {
  x: Tensor; // input (owned by the caller)
  rstd1: Tensor; n1: Tensor | null; q: Tensor; k: Tensor; v: Tensor; p: Tensor; o: Tensor | null;
  xm: Tensor; rstd2: Tensor; n2: Tensor | null; g: Tensor; u: Tensor; h: Tensor | null;
}

/** One Llama decoder layer: pre-RMSNorm, RoPE attention with GQA, SwiGLU MLP. */
export class LlamaBlock implements Block {
  private saved: Saved | null = null;

  constructor(
    private readonly config: ModelConfig,
    private readonly w: LlamaLayerWeights,
    private readonly ropeCos: Tensor,
    private readonly ropeSin: Tensor,
  ) {}

  private layout(ctx: PassContext): AttentionLayout {
    const { numHeads: H, numKvHeads: KVH, headDim: D } = this.config;
    return {
      B: ctx.B, S: ctx.S, heads: H, kvHeads: KVH, headDim: D,
      ldq: H * D, ldk: KVH * D, ldv: KVH * D, qOffset: 0, kOffset: 0, vOffset: 0,
    };
  }

  forward(ctx: PassContext, x: Tensor): Tensor {
    const { rt, T, B, S } = ctx;
    const { hiddenSize: C, numHeads: H, numKvHeads: KVH, headDim: D, intermediateSize: I, normEps } = this.config;
    const w = this.w;
    const rstd1 = rt.tensor([T], 'rstd1');
    const n1 = rt.tensor([T, C], 'n1');
    rmsnormForward(rt, x, w.inputNorm, n1, rstd1, T, C, normEps);
    const q = rt.tensor([T, H * D], 'q');
    const k = rt.tensor([T, KVH * D], 'k');
    const v = rt.tensor([T, KVH * D], 'v');
    linearForward(ctx, w.q, n1, q);
    linearForward(ctx, w.k, n1, k);
    linearForward(ctx, w.v, n1, v);
    const n1Saved = keepIf(ctx, backwardReadsInput(ctx, w.q, w.k, w.v), n1);
    rope(rt, { x: q, cos: this.ropeCos, sin: this.ropeSin, T, S, heads: H, headDim: D });
    rope(rt, { x: k, cos: this.ropeCos, sin: this.ropeSin, T, S, heads: KVH, headDim: D });
    const o = rt.tensor([T, H * D], 'attn');
    const p = rt.tensor([B, H, S, S], 'probs');
    attentionForward(rt, this.layout(ctx), q, k, v, o, p);
    const a = rt.tensor([T, C], 'o_proj');
    linearForward(ctx, w.o, o, a);
    const oSaved = keepIf(ctx, backwardReadsInput(ctx, w.o), o);
    const xm = rt.tensor([T, C], 'resid_mid');
    add(rt, x, a, xm);
    rt.release(a);
    const rstd2 = rt.tensor([T], 'rstd2');
    const n2 = rt.tensor([T, C], 'n2');
    rmsnormForward(rt, xm, w.postNorm, n2, rstd2, T, C, normEps);
    const g = rt.tensor([T, I], 'gate');
    const u = rt.tensor([T, I], 'up');
    linearForward(ctx, w.gate, n2, g);
    linearForward(ctx, w.up, n2, u);
    const n2Saved = keepIf(ctx, backwardReadsInput(ctx, w.gate, w.up), n2);
    const h = rt.tensor([T, I], 'swiglu');
    swigluForward(rt, g, u, h);
    const d = rt.tensor([T, C], 'down');
    linearForward(ctx, w.down, h, d);
    const hSaved = keepIf(ctx, backwardReadsInput(ctx, w.down), h);
    const out = rt.tensor([T, C], 'resid_out');
    add(rt, xm, d, out);
    rt.release(d);
    this.saved = { x, rstd1, n1: n1Saved, q, k, v, p, o: oSaved, xm, rstd2, n2: n2Saved, g, u, h: hSaved };
    if (!ctx.keep) this.release(ctx);
    return out;
  }

  backward(ctx: PassContext, dOut: Tensor): Tensor {
    const s = this.saved;
    if (!s) throw new Error('llama block: backward without a training forward');
    const { rt, T, S } = ctx;
    const { hiddenSize: C, numHeads: H, numKvHeads: KVH, headDim: D, intermediateSize: I } = this.config;
    const w = this.w;
    // MLP
    const dh = rt.tensor([T, I], 'd_swiglu');
    linearBackward(ctx, w.down, s.h, dOut, dh, false);
    const dg = rt.tensor([T, I], 'd_gate');
    const du = rt.tensor([T, I], 'd_up');
    swigluBackward(rt, s.g, s.u, dh, dg, du);
    rt.release(dh);
    const dn2 = rt.tensor([T, C], 'd_n2');
    linearBackward(ctx, w.gate, s.n2, dg, dn2, false);
    linearBackward(ctx, w.up, s.n2, du, dn2, true);
    rt.release(dg, du);
    const dxm = rt.tensor([T, C], 'd_resid_mid');
    rmsnormBackward(rt, s.xm, w.postNorm, s.rstd2, dn2, dxm, T, C, dOut);
    normParamsBackward(ctx, 'rmsnorm', s.xm, s.rstd2, dn2, C, w.postNorm);
    rt.release(dn2);
    // Attention
    const dO = rt.tensor([T, H * D], 'd_attn');
    linearBackward(ctx, w.o, s.o, dxm, dO, false);
    const dq = rt.tensor([T, H * D], 'dq');
    const dk = rt.tensor([T, KVH * D], 'dk');
    const dv = rt.tensor([T, KVH * D], 'dv');
    const ds = rt.tensor(s.p.shape, 'dscores');
    attentionBackward(rt, this.layout(ctx), s.q, s.k, s.v, s.p, dO, { dq, dk, dv, ds });
    rt.release(dO, ds);
    rope(rt, { x: dq, cos: this.ropeCos, sin: this.ropeSin, T, S, heads: H, headDim: D, inverse: true });
    rope(rt, { x: dk, cos: this.ropeCos, sin: this.ropeSin, T, S, heads: KVH, headDim: D, inverse: true });
    const dn1 = rt.tensor([T, C], 'd_n1');
    linearBackward(ctx, w.q, s.n1, dq, dn1, false);
    linearBackward(ctx, w.k, s.n1, dk, dn1, true);
    linearBackward(ctx, w.v, s.n1, dv, dn1, true);
    rt.release(dq, dk, dv);
    const dx = rt.tensor([T, C], 'd_resid_in');
    rmsnormBackward(rt, s.x, w.inputNorm, s.rstd1, dn1, dx, T, C, dxm);
    normParamsBackward(ctx, 'rmsnorm', s.x, s.rstd1, dn1, C, w.inputNorm);
    rt.release(dn1, dxm);
    this.release(ctx);
    return dx;
  }

  release(ctx: PassContext): void {
    const s = this.saved;
    if (!s) return;
    ctx.rt.release(s.rstd1, s.n1, s.q, s.k, s.v, s.p, s.o, s.xm, s.rstd2, s.n2, s.g, s.u, s.h);
    this.saved = null;
  }
}
