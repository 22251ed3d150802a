import type { ModelConfig } from '../formats/hf-config';
import type { Tensor } from '../gpu/tensor';
import { type AttentionLayout, attentionBackward, attentionForward } from '../kernels/attention';
import { add, geluBackward, geluForward } from '../kernels/elementwise';
import { layernormBackward, layernormForward } from '../kernels/norms';
import { backwardReadsInput, type Block, keepIf, linearBackward, linearForward, normParamsBackward, type PassContext } from './context';
import { attendWithCache } from './kv-cache';
import type { FrozenLinear } from './linear';

export interface Gpt2LayerWeights {
  readonly ln1Weight: Tensor;
  readonly ln1Bias: Tensor;
  readonly ln2Weight: Tensor;
  readonly ln2Bias: Tensor;
  readonly attn: FrozenLinear; // c_attn: [T, H] → [T, 3H] (q | k | v)
  readonly attnProj: FrozenLinear;
  readonly fc: FrozenLinear;
  readonly mlpProj: FrozenLinear;
}

/** What backward reads. The inputs of linear layers are null when nothing reads them (backwardReadsInput). */
interface Saved {
  x: Tensor;
  stats1: Tensor;
  n1: Tensor | null;
  qkv: Tensor;
  p: Tensor;
  o: Tensor | null;
  xm: Tensor;
  stats2: Tensor;
  n2: Tensor | null;
  f: Tensor;
  h: Tensor | null;
}

/** One GPT-2 block: pre-LayerNorm, fused-QKV attention, GELU (tanh) MLP, all with biases. */
export class Gpt2Block implements Block {
  private saved: Saved | null = null;

  constructor(
    private readonly config: ModelConfig,
    private readonly w: Gpt2LayerWeights,
    /** Its index: the layer of a KV cache it writes. */
    private readonly layer: number,
  ) {}

  private layout(ctx: PassContext): AttentionLayout {
    const { numHeads: H, headDim: D, hiddenSize: C } = this.config;
    return {
      B: ctx.B,
      S: ctx.S,
      heads: H,
      kvHeads: H,
      headDim: D,
      ldq: 3 * C,
      ldk: 3 * C,
      ldv: 3 * C,
      qOffset: 0,
      kOffset: C,
      vOffset: 2 * C,
    };
  }

  forward(ctx: PassContext, x: Tensor): Tensor {
    const { rt, T } = ctx;
    const { hiddenSize: C, intermediateSize: I, normEps } = this.config;
    const w = this.w;
    const stats1 = rt.tensor([T, 2], 'ln1_stats');
    const n1 = rt.tensor([T, C], 'n1');
    layernormForward(rt, x, w.ln1Weight, w.ln1Bias, n1, stats1, T, C, normEps);
    const qkv = rt.tensor([T, 3 * C], 'qkv');
    linearForward(ctx, w.attn, n1, qkv);
    const n1Saved = keepIf(ctx, backwardReadsInput(ctx, w.attn), n1);
    const o = rt.tensor([T, C], 'attn');
    const p = this.attend(ctx, qkv, o);
    const a = rt.tensor([T, C], 'attn_proj');
    linearForward(ctx, w.attnProj, o, a);
    const oSaved = keepIf(ctx, backwardReadsInput(ctx, w.attnProj), o);
    const xm = rt.tensor([T, C], 'resid_mid');
    add(rt, x, a, xm);
    rt.release(a);
    const stats2 = rt.tensor([T, 2], 'ln2_stats');
    const n2 = rt.tensor([T, C], 'n2');
    layernormForward(rt, xm, w.ln2Weight, w.ln2Bias, n2, stats2, T, C, normEps);
    const f = rt.tensor([T, I], 'fc');
    linearForward(ctx, w.fc, n2, f);
    const n2Saved = keepIf(ctx, backwardReadsInput(ctx, w.fc), n2);
    const h = rt.tensor([T, I], 'gelu');
    geluForward(rt, f, h);
    const d = rt.tensor([T, C], 'mlp_proj');
    linearForward(ctx, w.mlpProj, h, d);
    const hSaved = keepIf(ctx, backwardReadsInput(ctx, w.mlpProj), h);
    const out = rt.tensor([T, C], 'resid_out');
    add(rt, xm, d, out);
    rt.release(d);
    this.saved = { x, stats1, n1: n1Saved, qkv, p, o: oSaved, xm, stats2, n2: n2Saved, f, h: hSaved };
    if (!ctx.keep) this.release(ctx);
    return out;
  }

  /** o = attention over the pass's own rows (P [B, H, S, S] is returned), or over the KV cache. */
  private attend(ctx: PassContext, qkv: Tensor, o: Tensor): Tensor {
    const l = this.layout(ctx);
    if (ctx.cache) return attendWithCache(ctx, this.layer, l, qkv, qkv, qkv, o);
    const p = ctx.rt.tensor([ctx.B, l.heads, ctx.S, ctx.S], 'probs');
    attentionForward(ctx.rt, l, qkv, qkv, qkv, o, p);
    return p;
  }

  backward(ctx: PassContext, dOut: Tensor): Tensor {
    const s = this.saved;
    if (!s) throw new Error('gpt2 block: backward without a training forward');
    const { rt, T } = ctx;
    const { hiddenSize: C, intermediateSize: I } = this.config;
    const w = this.w;
    const dh = rt.tensor([T, I], 'd_gelu');
    linearBackward(ctx, w.mlpProj, s.h, dOut, dh, false);
    const df = rt.tensor([T, I], 'd_fc');
    geluBackward(rt, s.f, dh, df);
    rt.release(dh);
    const dn2 = rt.tensor([T, C], 'd_n2');
    linearBackward(ctx, w.fc, s.n2, df, dn2, false);
    rt.release(df);
    const dxm = rt.tensor([T, C], 'd_resid_mid');
    layernormBackward(rt, s.xm, w.ln2Weight, s.stats2, dn2, dxm, T, C, dOut);
    normParamsBackward(ctx, 'layernorm', s.xm, s.stats2, dn2, C, w.ln2Weight, w.ln2Bias);
    rt.release(dn2);
    const dO = rt.tensor([T, C], 'd_attn');
    linearBackward(ctx, w.attnProj, s.o, dxm, dO, false);
    // dq, dk and dv land side by side in one buffer, the layout c_attn produced.
    const dqkv = rt.tensor([T, 3 * C], 'd_qkv');
    const ds = rt.tensor(s.p.shape, 'dscores');
    attentionBackward(rt, this.layout(ctx), s.qkv, s.qkv, s.qkv, s.p, dO, { dq: dqkv, dk: dqkv, dv: dqkv, ds });
    rt.release(dO, ds);
    const dn1 = rt.tensor([T, C], 'd_n1');
    linearBackward(ctx, w.attn, s.n1, dqkv, dn1, false);
    rt.release(dqkv);
    this.zeroKeyBiasGrad(ctx);
    const dx = rt.tensor([T, C], 'd_resid_in');
    layernormBackward(rt, s.x, w.ln1Weight, s.stats1, dn1, dx, T, C, dxm);
    normParamsBackward(ctx, 'layernorm', s.x, s.stats1, dn1, C, w.ln1Weight, w.ln1Bias);
    rt.release(dn1, dxm);
    this.release(ctx);
    return dx;
  }

  /**
   * The key bias adds q_i·b_k to every score of row i, a shift softmax ignores, so its gradient
   * is exactly zero. Summed in f32 it would be rounding noise (~1e-9), which AdamW's m/√v turns
   * into steps of up to lr/10 (PyTorch in float64 sees ~1e-17 and does not move).
   */
  private zeroKeyBiasGrad(ctx: PassContext): void {
    const dBias = this.w.attn.bias ? ctx.baseGrads?.get(this.w.attn.bias) : undefined;
    if (dBias) ctx.rt.clearRange(dBias, this.config.hiddenSize, this.config.hiddenSize);
  }

  release(ctx: PassContext): void {
    const s = this.saved;
    if (!s) return;
    ctx.rt.release(s.stats1, s.n1, s.qkv, s.p, s.o, s.xm, s.stats2, s.n2, s.f, s.h);
    this.saved = null;
  }
}
