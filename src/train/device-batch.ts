import { IGNORE_INDEX, type TokenBatch } from '../formats/batch';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import type { DeviceTokens } from '../model/transformer';

/** A batch on the GPU: token ids, next-token targets, and how many targets count. */
export interface DeviceBatch extends DeviceTokens {
  /** [B·S] i32: labels shifted left by one (the target of position t is labels[t+1]); −100 ignored. */
  readonly targets: Tensor;
  readonly targetCount: number;
}

/** Next-token targets as transformers computes its causal-LM loss. */
export function shiftedTargets(batch: TokenBatch): Int32Array {
  const { batch: B, seq: S, labels } = batch;
  const targets = new Int32Array(B * S).fill(IGNORE_INDEX);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s + 1 < S; s++) targets[b * S + s] = labels[b * S + s + 1]!;
  }
  return targets;
}

export function uploadBatch(rt: GpuRuntime, batch: TokenBatch): DeviceBatch {
  const targets = shiftedTargets(batch);
  const targetCount = targets.reduce((n, t) => n + (t === IGNORE_INDEX ? 0 : 1), 0);
  const ids = rt.intTensor(new Uint32Array(batch.inputIds), 'input_ids');
  const targetTensor = rt.intTensor(targets, 'targets');
  return { ids, hostIds: batch.inputIds, B: batch.batch, S: batch.seq, targets: targetTensor, targetCount };
}

export function releaseBatch(rt: GpuRuntime, b: DeviceBatch): void {
  rt.release(b.ids, b.targets);
}
