import type { Adapter, StepContext } from '../model/adapter';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { crossEntropy, reduceSum } from '../kernels/loss';
import type { Transformer } from '../model/transformer';
import type { DeviceBatch } from './device-batch';
import { recordHeadLoss } from './head-loss';

export class EmptyBatchError extends Error {
  constructor() {
    super('the batch has no target tokens: every label is -100 (or sequences have length 1), so there is no loss to compute');
    this.name = 'EmptyBatchError';
  }
}

/**
 * Records forward, loss and (with `withGrad`) backward into the current command encoder. The
 * mean loss lands in lossOut[slot]; nothing is read back here. The LM head and the loss run in
 * chunks of rows (head-loss.ts; `headRows` sets their size), except with `keepLogits`, which
 * returns the whole [T, V] logits (owned by the caller) for evaluation.
 */
export function recordLoss(
  rt: GpuRuntime,
  model: Transformer,
  adapter: Adapter | null,
  batch: DeviceBatch,
  step: StepContext,
  opts: {
    withGrad: boolean;
    lossOut: Tensor;
    slot?: number;
    keepLogits?: boolean;
    baseGrads?: ReadonlyMap<Tensor, Tensor> | null;
    headRows?: number;
  },
): Tensor | null {
  if (batch.targetCount === 0) throw new EmptyBatchError();
  if (opts.keepLogits && opts.withGrad) throw new Error('keepLogits and withGrad are exclusive');
  const T = batch.B * batch.S;
  const invCount = 1 / batch.targetCount;
  const losses = rt.tensor([T], 'row_losses');
  const baseGrads = opts.baseGrads ?? null;
  let logits: Tensor | null = null;
  if (opts.keepLogits) {
    logits = model.forward(batch, adapter, step, false, baseGrads);
    crossEntropy(rt, { logits, targets: batch.targets, losses, T, V: model.config.vocabSize, invCount, writeGrad: false });
  } else {
    const hidden = model.forwardHidden(batch, adapter, step, opts.withGrad, baseGrads);
    const dHidden = opts.withGrad ? rt.tensor([T, model.config.hiddenSize], 'd_final_norm') : null;
    const dHead = model.headGrad(baseGrads);
    recordHeadLoss(rt, model, { hidden, targets: batch.targets, losses, T, invCount, dHidden, dHead, rows: opts.headRows });
    if (dHidden) {
      model.backwardHidden(batch, adapter, step, dHidden, baseGrads);
      rt.release(dHidden);
    } else {
      rt.release(hidden);
    }
  }
  reduceSum(rt, losses, opts.lossOut, T, invCount, opts.slot ?? 0);
  rt.release(losses);
  return logits;
}
