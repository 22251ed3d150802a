import type { Adapter, StepContext } from '../model/adapter';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { crossEntropy, reduceSum } from '../kernels/loss';
import type { Transformer } from '../model/transformer';
import type { DeviceBatch } from './device-batch';

export class EmptyBatchError extends Error {
  constructor() {
    super('the batch has no target tokens: every label is -100 (or sequences have length 1), so there is no loss to compute');
    this.name = 'EmptyBatchError';
  }
}

/**
 * Records forward, loss and (with `withGrad`) backward into the current command encoder. The
 * mean loss lands in lossOut[slot]; nothing is read back here.
 */
export function recordLoss(
  rt: GpuRuntime,
  model: Transformer,
  adapter: Adapter | null,
  batch: DeviceBatch,
  step: StepContext,
  opts: { withGrad: boolean; lossOut: Tensor; slot?: number; keepLogits?: boolean; baseGrads?: ReadonlyMap<Tensor, Tensor> | null },
): Tensor | null {
  if (batch.targetCount === 0) throw new EmptyBatchError();
  const T = batch.B * batch.S;
  const V = model.config.vocabSize;
  const logits = model.forward(batch, adapter, step, opts.withGrad, opts.baseGrads ?? null);
  const losses = rt.tensor([T], 'row_losses');
  const invCount = 1 / batch.targetCount;
  if (opts.keepLogits) {
    crossEntropy(rt, { logits, targets: batch.targets, losses, T, V, invCount, writeGrad: false });
  } else {
    crossEntropy(rt, { logits, targets: batch.targets, losses, T, V, invCount, writeGrad: opts.withGrad });
  }
  reduceSum(rt, losses, opts.lossOut, T, invCount, opts.slot ?? 0);
  rt.release(losses);
  if (opts.withGrad) {
    if (opts.keepLogits) throw new Error('keepLogits and withGrad are exclusive');
    model.backward(batch, adapter, step, logits, opts.baseGrads ?? null);
  }
  if (opts.keepLogits) return logits;
  rt.release(logits);
  return null;
}
