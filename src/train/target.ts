import type { Adapter, TrainableParam } from '../model/adapter';
import type { Tensor } from '../gpu/tensor';

/** What a training run updates: an adapter's tensors, the base weights (full rank), or both. */
export interface TrainingTarget {
  /** Layers the forward routes through (null: the plain model). */
  readonly adapter: Adapter | null;
  /** Every tensor AdamW updates, with its gradient buffer. */
  readonly params: readonly TrainableParam[];
  /** Full-rank training: gradient of each trainable base weight, keyed by the weight tensor. */
  readonly baseGrads: ReadonlyMap<Tensor, Tensor> | null;
}

export function adapterTarget(adapter: Adapter): TrainingTarget {
  return { adapter, params: adapter.parameters(), baseGrads: null };
}

export function isTrainingTarget(x: Adapter | TrainingTarget): x is TrainingTarget {
  return 'params' in x && 'baseGrads' in x;
}
