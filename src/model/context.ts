import type { Adapter, StepContext } from '../adapters/types';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { normWeightGrad } from '../kernels/weight-grads';
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

/** d loss/d x of a linear layer (adding to dx with `accumulate`), plus its adapter's gradients. */
export function linearBackward(
  ctx: PassContext, linear: FrozenLinear, x: Tensor, dy: Tensor, dx: Tensor, accumulate: boolean,
): void {
  const layer = ctx.adapter?.layerFor(linear.modulePath);
  if (layer) {
    layer.backward(ctx.rt, x, dy, dx, ctx.T, accumulate, ctx.step);
    layer.releaseSaved(ctx.rt);
  } else {
    linear.backwardInput(ctx.rt, dy, dx, ctx.T, accumulate);
  }
  const dW = ctx.baseGrads?.get(linear.weight);
  if (dW) linear.accumulateWeightGrad(ctx.rt, x, dy, ctx.T, dW, linear.bias ? ctx.baseGrads?.get(linear.bias) : undefined);
}

/** Full-rank training only: the gradients of a norm's weight (and bias) from its output gradient. */
export function normParamsBackward(
  ctx: PassContext, kind: 'rmsnorm' | 'layernorm', x: Tensor, stats: Tensor, dy: Tensor, C: number, weight: Tensor, bias?: Tensor,
): void {
  const dw = ctx.baseGrads?.get(weight);
  if (!dw) return;
  normWeightGrad(ctx.rt, kind, x, stats, dy, dw, bias ? ctx.baseGrads?.get(bias) ?? null : null, ctx.T, C);
}

/** A transformer layer: forward keeps what its backward needs; backward returns d loss/d input. */
export interface Block {
  forward(ctx: PassContext, x: Tensor): Tensor;
  backward(ctx: PassContext, dOut: Tensor): Tensor;
  release(ctx: PassContext): void;
}
