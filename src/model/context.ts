import type { Adapter, StepContext } from './adapter';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { normWeightGrad } from '../kernels/weight-grads';
import type { KvCache } from './kv-cache';
import type { FrozenLinear } from './linear';

/** Everything a block needs for one pass: the runtime, batch dims, adapter and step context. */
export interface PassContext {
  readonly rt: GpuRuntime;
  readonly B: number;
  readonly S: number;
  /** Rows of every activation: B · S. */
  readonly T: number;
  readonly adapter: Adapter | null;
  readonly step: StepContext;
  /** Keep activations for backward (training) or free them as soon as possible (inference). */
  readonly keep: boolean;
  /** Full-rank training: gradient buffer of each trainable base weight, keyed by the weight tensor. */
  readonly baseGrads: ReadonlyMap<Tensor, Tensor> | null;
  /**
   * Cached decoding (inference only, B = 1): the S rows are positions pos0 … pos0 + S − 1; each
   * block appends its keys and values to the cache and attends over all of it.
   */
  readonly cache?: { readonly kv: KvCache; readonly pos0: number };
}

/** The first position of the pass's rows: 0, or the cached prefix's length. */
export function firstPosition(ctx: PassContext): number {
  return ctx.cache?.pos0 ?? 0;
}

/** Runs a linear layer through its adapter when it has one, else the frozen layer alone. */
export function linearForward(ctx: PassContext, linear: FrozenLinear, x: Tensor, y: Tensor): void {
  const layer = ctx.adapter?.layerFor(linear.modulePath);
  if (layer) {
    layer.forward(ctx.rt, x, y, ctx.T, ctx.step);
    if (!ctx.keep) layer.releaseSaved(ctx.rt);
  } else {
    linear.forward(ctx.rt, x, y, ctx.T);
  }
}

/**
 * Whether the backward pass reads the input of any of these linear layers. Only their
 * adapters' gradients and their own weight gradients (full rank) do: d loss/d x of a frozen
 * layer needs the weight alone. An input nobody reads is freed right after the forward uses
 * it instead of being kept for the whole step.
 */
export function backwardReadsInput(ctx: PassContext, ...linears: FrozenLinear[]): boolean {
  if (!ctx.keep) return false;
  return linears.some((l) => ctx.adapter?.layerFor(l.modulePath) !== undefined || ctx.baseGrads?.has(l.weight) === true);
}

/**
 * d loss/d x of a linear layer (adding to dx with `accumulate`), plus its adapter's gradients
 * and, in full-rank training, its weight's and bias's (`biasGrad: false`: the caller computes
 * the bias's gradient another way).
 * `x` is the layer's saved input, null when backwardReadsInput said nothing needs it.
 */
export function linearBackward(
  ctx: PassContext,
  linear: FrozenLinear,
  x: Tensor | null,
  dy: Tensor,
  dx: Tensor,
  accumulate: boolean,
  opts: { biasGrad?: boolean } = {},
): void {
  const layer = ctx.adapter?.layerFor(linear.modulePath);
  const dW = ctx.baseGrads?.get(linear.weight);
  if ((layer || dW) && !x) throw new Error(`${linear.modulePath}: backward needs the layer's input, which the forward did not keep`);
  if (layer) {
    layer.backward(ctx.rt, x as Tensor, dy, dx, ctx.T, accumulate, ctx.step);
    layer.releaseSaved(ctx.rt);
  } else {
    linear.backwardInput(ctx.rt, dy, dx, ctx.T, accumulate);
  }
  if (dW) linear.accumulateWeightGrad(ctx.rt, x as Tensor, dy, ctx.T, dW);
  // A bias may train while its weight does not (ReLoRA's LoRA phase keeps biases full-rank).
  const dB = linear.bias && opts.biasGrad !== false ? ctx.baseGrads?.get(linear.bias) : undefined;
  if (dB) linear.accumulateBiasGrad(ctx.rt, dy, ctx.T, dB);
}

/** The tensor if backward reads it, else null after releasing it (see backwardReadsInput). */
export function keepIf(ctx: PassContext, needed: boolean, t: Tensor): Tensor | null {
  if (needed) return t;
  ctx.rt.release(t);
  return null;
}

/**
 * Full-rank training only: the gradients of a norm's weight (and bias) from its output gradient,
 * over `rows` rows of C (T by default; T · heads for per-head q/k norms).
 */
export function normParamsBackward(
  ctx: PassContext,
  kind: 'rmsnorm' | 'layernorm',
  x: Tensor,
  stats: Tensor,
  dy: Tensor,
  C: number,
  weight: Tensor,
  bias?: Tensor,
  rows = ctx.T,
): void {
  const dw = ctx.baseGrads?.get(weight);
  if (!dw) return;
  normWeightGrad(ctx.rt, kind, x, stats, dy, dw, bias ? (ctx.baseGrads?.get(bias) ?? null) : null, rows, C);
}

/** A transformer layer: forward keeps what its backward needs; backward returns d loss/d input. */
export interface Block {
  forward(ctx: PassContext, x: Tensor): Tensor;
  backward(ctx: PassContext, dOut: Tensor): Tensor;
  release(ctx: PassContext): void;
}
