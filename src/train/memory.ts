import type { ModelConfig } from '../formats/hf-config';

/** What a training run will allocate on the GPU, in bytes (f32 everywhere). */
export interface MemoryEstimate {
  readonly weights: number;
  /** Adapter values, gradients and the two AdamW moments. */
  readonly adapter: number;
  /** Activations kept for backward plus logits and their gradient. */
  readonly activations: number;
  readonly total: number;
  /** The largest single buffer (it must fit maxStorageBufferBindingSize). */
  readonly largestBuffer: number;
}

export interface DeviceBudget {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  /** Total bytes the run may use (WebGPU does not expose device memory; see memoryBudget). */
  readonly totalBytes: number;
}

const F32 = 4;

/**
 * A deliberately generous estimate: per layer the blocks keep about a dozen [T, hidden] and four
 * [T, intermediate] activations plus the attention probabilities [B, heads, S, S]; logits and
 * their gradient are [T, vocab] each.
 */
export function estimateTrainingMemory(
  config: ModelConfig,
  parameterCount: number,
  trainableParams: number,
  batch: number,
  seq: number,
): MemoryEstimate {
  const T = batch * seq;
  const perLayer = T * (12 * config.hiddenSize + 4 * config.intermediateSize) + batch * config.numHeads * seq * seq;
  const logits = T * config.vocabSize;
  const weights = parameterCount * F32;
  const adapter = trainableParams * 4 * F32;
  const activations = (config.numLayers * perLayer + 3 * logits) * F32;
  const largestWeight = config.vocabSize * config.hiddenSize;
  const largestBuffer = Math.max(largestWeight, logits, batch * config.numHeads * seq * seq) * F32;
  return { weights, adapter, activations, total: weights + adapter + activations, largestBuffer };
}

/**
 * WebGPU exposes no device memory size. The budget is the larger of 2 GiB and half of what
 * navigator.deviceMemory reports (Chrome caps that at 8 GiB), a conservative guess that holds on
 * integrated GPUs and software adapters alike.
 */
export function memoryBudget(
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number },
  deviceMemoryGiB: number | undefined,
): DeviceBudget {
  const gib = 1024 ** 3;
  const totalBytes = Math.max(2 * gib, ((deviceMemoryGiB ?? 4) * gib) / 2);
  return { ...limits, totalBytes };
}

/** Why the run will not fit, or null when it does. */
export function whyItDoesNotFit(m: MemoryEstimate, b: DeviceBudget): string | null {
  const limit = Math.min(b.maxStorageBufferBindingSize, b.maxBufferSize);
  if (m.largestBuffer > limit) {
    return `its largest tensor needs ${formatBytes(m.largestBuffer)} but this GPU binds at most ${formatBytes(limit)} per buffer; use a shorter sequence or a smaller batch`;
  }
  if (m.total > b.totalBytes) {
    return `training needs about ${formatBytes(m.total)} of GPU memory but the budget on this device is ${formatBytes(b.totalBytes)}; pick a smaller model, batch or sequence length`;
  }
  return null;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
