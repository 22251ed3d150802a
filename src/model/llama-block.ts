import type { LayerType, ModelConfig } from '../formats/hf-config';
import type { Tensor } from '../gpu/tensor';
import { type AttentionLayout, attentionBackward, attentionForward, keyBiasGrad } from '../kernels/attention';
import { add, gatedBackward, gatedForward } from '../kernels/elementwise';
import { rmsnormBackward, rmsnormForward } from '../kernels/norms';
import { rope } from '../kernels/rope';
import {
  backwardReadsInput,
  type Block,
  firstPosition,
  keepIf,
  linearBackward,
  linearForward,
  normParamsBackward,
  type PassContext,
} from './context';
import { attendWithCache } from './kv-cache';
import type { FrozenLinear } from './linear';
import type { RopeTable } from './rope-table';

export interface LlamaLayerWeights {
  /** Before attention (input_layernorm) and before the MLP (Llama's post_attention_layernorm, Gemma's pre_feedforward_layernorm). */
  readonly attnNorm: Tensor;
  readonly mlpNorm: Tensor;
  /** Gemma 3's norms of each branch's output (post_attention_layernorm, post_feedforward_layernorm); null elsewhere. */
  readonly attnOutNorm: Tensor | null;
  readonly mlpOutNorm: Tensor | null;
  /** Per-head norms of q and k before RoPE (Qwen3, Gemma 3); null elsewhere. */
  readonly qNorm: Tensor | null;
  readonly kNorm: Tensor | null;
  readonly q: FrozenLinear;
  readonly k: FrozenLinear;
  readonly v: FrozenLinear;
  readonly o: FrozenLinear;
  readonly gate: FrozenLinear;
  readonly up: FrozenLinear;
  readonly down: FrozenLinear;
}

/** A norm's input and its saved rstd: what its backward reads. */
interface NormSaved {
  readonly x: Tensor;
  readonly rstd: Tensor;
}

/** What backward reads. The inputs of linear layers are null when nothing reads them (backwardReadsInput). */
interface Saved {
  x: Tensor; // input (owned by the caller)
  rstd1: Tensor;
  n1: Tensor | null;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  p: Tensor;
  o: Tensor | null;
  qNorm: NormSaved | null;
  kNorm: NormSaved | null;
  attnOut: NormSaved | null;
  xm: Tensor;
  rstd2: Tensor;
  n2: Tensor | null;
  g: Tensor;
  u: Tensor;
  h: Tensor | null;
  mlpOut: NormSaved | null;
}

/**
 * One Llama-shaped decoder layer: pre-RMSNorm, RoPE attention with GQA, gated MLP. The family's
 * switches (ModelConfig) add q/k norms (Qwen3, Gemma 3), norms on each branch's output and the
 * (1 + w) norm form (Gemma 3), GeGLU, and a sliding window with its own RoPE table.
 */
export class LlamaBlock implements Block {
  private saved: Saved | null = null;

  constructor(
    private readonly config: ModelConfig,
    private readonly w: LlamaLayerWeights,
    private readonly ropeTable: RopeTable,
    private readonly layerType: LayerType,
    /** Its index: the layer of a KV cache it writes. */
    private readonly layer: number,
  ) {}

  private layout(ctx: PassContext): AttentionLayout {
    const { numHeads: H, numKvHeads: KVH, headDim: D, attentionScale, slidingWindow } = this.config;
    return {
      B: ctx.B,
      S: ctx.S,
      heads: H,
      kvHeads: KVH,
      headDim: D,
      ldq: H * D,
      ldk: KVH * D,
      ldv: KVH * D,
      qOffset: 0,
      kOffset: 0,
      vOffset: 0,
      scale: attentionScale,
      window: this.layerType === 'sliding' ? slidingWindow : 0,
    };
  }

  /** y = rmsnorm(x) over rows of C, in the family's weight form; rstd is returned. */
  private norm(ctx: PassContext, x: Tensor, w: Tensor, y: Tensor, rows: number, C: number, label: string): Tensor {
    const rstd = ctx.rt.tensor([rows], label);
    rmsnormForward(ctx.rt, x, w, y, rstd, rows, C, this.config.normEps, this.config.normWeightOffset);
    return rstd;
  }

  /** dx (+ dres) of a norm, and its weight's gradient when it trains (full rank). */
  private normBackward(ctx: PassContext, s: NormSaved, w: Tensor, dy: Tensor, dx: Tensor, rows: number, C: number, dres?: Tensor): void {
    rmsnormBackward(ctx.rt, s.x, w, s.rstd, dy, dx, rows, C, dres, this.config.normWeightOffset);
    normParamsBackward(ctx, 'rmsnorm', s.x, s.rstd, dy, C, w, undefined, rows);
  }

  /**
   * A branch output through its output norm (Gemma 3) or as it is. The pre-norm output is kept
   * for backward; returns the tensor to add to the residual.
   */
  private outputNorm(ctx: PassContext, y: Tensor, w: Tensor | null, label: string): { out: Tensor; saved: NormSaved | null } {
    if (!w) return { out: y, saved: null };
    const out = ctx.rt.tensor(y.shape, `${label}_normed`);
    const rstd = this.norm(ctx, y, w, out, ctx.T, this.config.hiddenSize, `${label}_rstd`);
    return { out, saved: { x: y, rstd } };
  }

  /** q or k [T, heads·D] through its per-head norm (a no-op without one); the norm's input is kept. */
  private headNorm(ctx: PassContext, x: Tensor, w: Tensor | null, heads: number, label: string): { out: Tensor; saved: NormSaved | null } {
    if (!w) return { out: x, saved: null };
    const D = this.config.headDim;
    const out = ctx.rt.tensor(x.shape, `${label}_normed`);
    const rstd = this.norm(ctx, x, w, out, ctx.T * heads, D, `${label}_rstd`);
    return { out, saved: { x, rstd } };
  }

  forward(ctx: PassContext, x: Tensor): Tensor {
    const { rt, T, S } = ctx;
    const { hiddenSize: C, numHeads: H, numKvHeads: KVH, headDim: D, intermediateSize: I, activation } = this.config;
    const w = this.w;
    const n1 = rt.tensor([T, C], 'n1');
    const rstd1 = this.norm(ctx, x, w.attnNorm, n1, T, C, 'rstd1');
    const q0 = rt.tensor([T, H * D], 'q');
    const k0 = rt.tensor([T, KVH * D], 'k');
    const v = rt.tensor([T, KVH * D], 'v');
    linearForward(ctx, w.q, n1, q0);
    linearForward(ctx, w.k, n1, k0);
    linearForward(ctx, w.v, n1, v);
    const n1Saved = keepIf(ctx, backwardReadsInput(ctx, w.q, w.k, w.v), n1);
    const { out: q, saved: qNorm } = this.headNorm(ctx, q0, w.qNorm, H, 'q');
    const { out: k, saved: kNorm } = this.headNorm(ctx, k0, w.kNorm, KVH, 'k');
    const table = this.ropeTable;
    const pos0 = firstPosition(ctx);
    rope(rt, { x: q, cos: table.cos, sin: table.sin, T, S, heads: H, headDim: D, pos0 });
    rope(rt, { x: k, cos: table.cos, sin: table.sin, T, S, heads: KVH, headDim: D, pos0 });
    const o = rt.tensor([T, H * D], 'attn');
    const p = this.attend(ctx, q, k, v, o);
    const a = rt.tensor([T, C], 'o_proj');
    linearForward(ctx, w.o, o, a);
    const oSaved = keepIf(ctx, backwardReadsInput(ctx, w.o), o);
    const { out: aOut, saved: attnOut } = this.outputNorm(ctx, a, w.attnOutNorm, 'o_proj');
    const xm = rt.tensor([T, C], 'resid_mid');
    add(rt, x, aOut, xm);
    rt.release(aOut);
    const n2 = rt.tensor([T, C], 'n2');
    const rstd2 = this.norm(ctx, xm, w.mlpNorm, n2, T, C, 'rstd2');
    const g = rt.tensor([T, I], 'gate');
    const u = rt.tensor([T, I], 'up');
    linearForward(ctx, w.gate, n2, g);
    linearForward(ctx, w.up, n2, u);
    const n2Saved = keepIf(ctx, backwardReadsInput(ctx, w.gate, w.up), n2);
    const h = rt.tensor([T, I], 'gated');
    gatedForward(rt, activation === 'gelu_tanh' ? 'gelu_tanh' : 'silu', g, u, h);
    const d = rt.tensor([T, C], 'down');
    linearForward(ctx, w.down, h, d);
    const hSaved = keepIf(ctx, backwardReadsInput(ctx, w.down), h);
    const { out: dOut, saved: mlpOut } = this.outputNorm(ctx, d, w.mlpOutNorm, 'down');
    const out = rt.tensor([T, C], 'resid_out');
    add(rt, xm, dOut, out);
    rt.release(dOut);
    this.saved = {
      x,
      rstd1,
      n1: n1Saved,
      q,
      k,
      v,
      p,
      o: oSaved,
      qNorm,
      kNorm,
      attnOut,
      xm,
      rstd2,
      n2: n2Saved,
      g,
      u,
      h: hSaved,
      mlpOut,
    };
    if (!ctx.keep) this.release(ctx);
    return out;
  }

  /** o = attention over the pass's own rows (P [B, H, S, S] is returned), or over the KV cache. */
  private attend(ctx: PassContext, q: Tensor, k: Tensor, v: Tensor, o: Tensor): Tensor {
    const l = this.layout(ctx);
    if (ctx.cache) return attendWithCache(ctx, this.layer, l, q, k, v, o);
    const p = ctx.rt.tensor([ctx.B, l.heads, ctx.S, ctx.S], 'probs');
    attentionForward(ctx.rt, l, q, k, v, o, p);
    return p;
  }

  backward(ctx: PassContext, dOut: Tensor): Tensor {
    const s = this.saved;
    if (!s) throw new Error('llama block: backward without a training forward');
    const { rt, T, S } = ctx;
    const { hiddenSize: C, numHeads: H, numKvHeads: KVH, headDim: D, intermediateSize: I, activation } = this.config;
    const w = this.w;
    // MLP (through its output norm first, when there is one)
    const dDown = this.throughOutputNorm(ctx, s.mlpOut, w.mlpOutNorm, dOut, 'd_down');
    const dh = rt.tensor([T, I], 'd_gated');
    linearBackward(ctx, w.down, s.h, dDown, dh, false);
    if (dDown !== dOut) rt.release(dDown);
    const dg = rt.tensor([T, I], 'd_gate');
    const du = rt.tensor([T, I], 'd_up');
    gatedBackward(rt, activation === 'gelu_tanh' ? 'gelu_tanh' : 'silu', s.g, s.u, dh, dg, du);
    rt.release(dh);
    const dn2 = rt.tensor([T, C], 'd_n2');
    linearBackward(ctx, w.gate, s.n2, dg, dn2, false);
    linearBackward(ctx, w.up, s.n2, du, dn2, true);
    rt.release(dg, du);
    const dxm = rt.tensor([T, C], 'd_resid_mid');
    this.normBackward(ctx, { x: s.xm, rstd: s.rstd2 }, w.mlpNorm, dn2, dxm, T, C, dOut);
    rt.release(dn2);
    // Attention
    const dA = this.throughOutputNorm(ctx, s.attnOut, w.attnOutNorm, dxm, 'd_o_proj');
    const dO = rt.tensor([T, H * D], 'd_attn');
    linearBackward(ctx, w.o, s.o, dA, dO, false);
    if (dA !== dxm) rt.release(dA);
    const dq = rt.tensor([T, H * D], 'dq');
    const dk = rt.tensor([T, KVH * D], 'dk');
    const dv = rt.tensor([T, KVH * D], 'dv');
    const ds = rt.tensor(s.p.shape, 'dscores');
    attentionBackward(rt, this.layout(ctx), s.q, s.k, s.v, s.p, dO, { dq, dk, dv, ds });
    const table = this.ropeTable;
    const dKeyBias = this.stableKeyBiasGrad(ctx);
    if (dKeyBias) keyBiasGrad(rt, this.layout(ctx), ds, s.q, table.cos, table.sin, dKeyBias);
    rt.release(dO, ds);
    rope(rt, { x: dq, cos: table.cos, sin: table.sin, T, S, heads: H, headDim: D, inverse: true });
    rope(rt, { x: dk, cos: table.cos, sin: table.sin, T, S, heads: KVH, headDim: D, inverse: true });
    const dq0 = this.throughHeadNorm(ctx, s.qNorm, w.qNorm, dq, H, 'dq');
    const dk0 = this.throughHeadNorm(ctx, s.kNorm, w.kNorm, dk, KVH, 'dk');
    const dn1 = rt.tensor([T, C], 'd_n1');
    linearBackward(ctx, w.q, s.n1, dq0, dn1, false);
    linearBackward(ctx, w.k, s.n1, dk0, dn1, true, { biasGrad: !dKeyBias });
    linearBackward(ctx, w.v, s.n1, dv, dn1, true);
    rt.release(dq, dk, dv);
    if (dq0 !== dq) rt.release(dq0);
    if (dk0 !== dk) rt.release(dk0);
    const dx = rt.tensor([T, C], 'd_resid_in');
    this.normBackward(ctx, { x: s.x, rstd: s.rstd1 }, w.attnNorm, dn1, dx, T, C, dxm);
    rt.release(dn1, dxm);
    this.release(ctx);
    return dx;
  }

  /**
   * The k bias's gradient buffer when it trains and sits right before RoPE (no k norm between):
   * then keyBiasGrad computes it without the cancellation of the column sums of dK.
   */
  private stableKeyBiasGrad(ctx: PassContext): Tensor | null {
    const bias = this.w.k.bias;
    if (!bias || this.w.kNorm) return null;
    return ctx.baseGrads?.get(bias) ?? null;
  }

  /** d loss/d (branch output before its norm); dy itself when the branch has no output norm. */
  private throughOutputNorm(ctx: PassContext, saved: NormSaved | null, w: Tensor | null, dy: Tensor, label: string): Tensor {
    if (!saved || !w) return dy;
    const dx = ctx.rt.tensor(dy.shape, label);
    this.normBackward(ctx, saved, w, dy, dx, ctx.T, this.config.hiddenSize);
    return dx;
  }

  /** d loss/d (q or k before its per-head norm); dy itself without one. */
  private throughHeadNorm(ctx: PassContext, saved: NormSaved | null, w: Tensor | null, dy: Tensor, heads: number, label: string): Tensor {
    if (!saved || !w) return dy;
    const dx = ctx.rt.tensor(dy.shape, `${label}_pre_norm`);
    this.normBackward(ctx, saved, w, dy, dx, ctx.T * heads, this.config.headDim);
    return dx;
  }

  release(ctx: PassContext): void {
    const s = this.saved;
    if (!s) return;
    const norms = [s.qNorm, s.kNorm, s.attnOut, s.mlpOut].flatMap((n) => (n ? [n.x, n.rstd] : []));
    ctx.rt.release(s.rstd1, s.n1, s.q, s.k, s.v, s.p, s.o, s.xm, s.rstd2, s.n2, s.g, s.u, s.h, ...norms);
    this.saved = null;
  }
}
