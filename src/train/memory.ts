import { ADAPTER_METHODS } from '../adapters';
import { type LinearModuleInfo, linearModules, type ModelConfig } from '../formats/hf-config';
import { headChunkRows } from './head-loss';
import type { AdapterSpec } from '../formats/peft';

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
  /** What that buffer holds, and its shape. */
  readonly largest: BufferNeed;
}

export interface DeviceBudget extends BufferLimits {
  /** Total bytes the run may use (WebGPU does not expose device memory; see memoryBudget). */
  readonly totalBytes: number;
}

/** The runtime's per-buffer limits (GpuInfo has both, from the device). */
export interface BufferLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
}

const F32 = 4;

/** One GPU buffer a run allocates: what it holds, its shape, its size in bytes (f32). */
export interface BufferNeed {
  readonly what: string;
  readonly shape: readonly number[];
  readonly bytes: number;
  /** What sets its size: the model, the adapter's settings (rank, targets) or the batch (sequences × length). */
  readonly sizedBy: 'model' | 'adapter' | 'batch';
}

function need(sizedBy: BufferNeed['sizedBy'], what: string, shape: readonly number[]): BufferNeed {
  return { what, shape, bytes: shape.reduce((a, b) => a * b, 1) * F32, sizedBy };
}

/**
 * The buffers of one step on `batch` sequences of `seq` tokens that grow with the batch, the largest
 * of each kind (src/model/*-block.ts): the attention probabilities [B, heads, S, S], the MLP's
 * [T, intermediate], the attention projections and the residual stream. The LM head and loss run
 * in chunks that fit the device (train/head-loss.ts), so the whole [T, vocab] logits are a buffer
 * only where they are kept (`wholeLogits`: the CLI's `eval --logits`).
 */
export function activationBuffers(config: ModelConfig, batch: number, seq: number, opts: { wholeLogits?: boolean } = {}): BufferNeed[] {
  const T = batch * seq;
  const gpt2 = config.arch === 'gpt2';
  const b = (what: string, shape: readonly number[]) => need('batch', what, shape);
  return [
    b('the attention probabilities', [batch, config.numHeads, seq, seq]),
    b('the MLP activations', [T, config.intermediateSize]),
    b(gpt2 ? 'the fused q/k/v projection' : 'the attention queries', [T, gpt2 ? 3 * config.hiddenSize : config.numHeads * config.headDim]),
    b('the hidden states', [T, config.hiddenSize]),
    ...(opts.wholeLogits ? [b('the logits', [T, config.vocabSize])] : []),
  ];
}

/**
 * The model's largest weight that must sit in one buffer: the largest linear layer. The token
 * embedding and the LM head are kept in blocks of rows under the limit (model/transformer.ts
 * RowBlocks), so they never need one buffer, except to train them in full rank (which says so).
 */
export function modelBuffers(config: ModelConfig): BufferNeed[] {
  const out: BufferNeed[] = [];
  const linears = linearModules(config);
  if (linears.length > 0) {
    const m = linears.reduce((a, l) => (l.inFeatures * l.outFeatures > a.inFeatures * a.outFeatures ? l : a));
    out.push(need('model', `the weight of ${m.modulePath}`, [m.outFeatures, m.inFeatures]));
  }
  return out;
}

/** Every tensor of the adapter (its gradient and AdamW moments have the same shapes), from the method's format. */
export function adapterBuffers(spec: AdapterSpec, modules: readonly LinearModuleInfo[]): BufferNeed[] {
  const format = ADAPTER_METHODS[spec.method].format;
  return format.tensors(spec, modules).map((t) => need('adapter', `the ${format.label} tensor ${t.key}`, t.shape));
}

/**
 * The most GPU memory a training step holds, from what the engine keeps (src/model/*-block.ts;
 * test/engine/saved-activations.test.ts counts it exactly for a frozen model):
 * - per layer: the norm statistics, q/k/v, the attention probabilities [B, heads, S, S], the
 *   attention output, the MLP's two [T, intermediate] activations; with gradient checkpointing
 *   only one layer keeps these, the others only their input;
 * - the residual stream (layers + 1 rows of [T, hidden]);
 * - for an adapter, the input of the adapted layers (one [T, hidden] a layer) and each adapted
 *   module's [T, r] projection;
 * - then the larger of the head and loss (one chunk of logits, train/head-loss.ts, which
 *   becomes its own gradient in place, and d hidden) and one layer's backward (the
 *   probabilities' and three [T, hidden] and two [T, intermediate] gradients, with
 *   checkpointing also the layer's recomputed activations).
 * Weights are f32, the adapter holds its parameters, their gradients and AdamW's m and v.
 * Measured against the buffer pool's peak: within 15 % for the bundled models and the real-shape
 * checkpoints (see README, "Memory").
 */
export function estimateTrainingMemory(
  config: ModelConfig,
  parameterCount: number,
  trainableParams: number,
  batch: number,
  seq: number,
  adapter?: { readonly spec: AdapterSpec; readonly modules: readonly LinearModuleInfo[] },
  opts: { readonly checkpointing?: boolean; readonly limits?: BufferLimits } = {},
): MemoryEstimate {
  const T = batch * seq;
  const { hiddenSize: C, intermediateSize: I, numLayers: L } = config;
  const qkv = config.numHeads * config.headDim + 2 * config.numKvHeads * config.headDim;
  const probs = batch * config.numHeads * seq * seq;
  const perLayer = T * (4 + qkv + C + 2 * I) + probs;
  const residuals = (L + 1) * T * C;
  // The adapted layers' inputs and projections, of one layer and of all.
  const adapterSavedOne = adapter ? T * C + (adapter.modules.length / L) * T * adapter.spec.rank : 0;
  const layer = perLayer + adapterSavedOne;
  const kept = residuals + (opts.checkpointing ? 0 : L * layer);
  const backward = probs + T * (3 * C + 2 * I);
  const limits = opts.limits ?? { maxStorageBufferBindingSize: Number.MAX_SAFE_INTEGER, maxBufferSize: Number.MAX_SAFE_INTEGER };
  const logits = headChunkRows(limits, T, config.vocabSize) * config.vocabSize;
  const weights = parameterCount * F32;
  const adapterBytes = trainableParams * 4 * F32;
  // The peak is the larger of two moments: the head and loss (one chunk of logits and d hidden),
  // then each layer's backward (its gradients, and with checkpointing its recomputed activations).
  const headPhase = kept + logits + T * C;
  const layerPhase = kept + (opts.checkpointing ? layer : 0) + backward;
  const activations = Math.max(headPhase, layerPhase) * F32;
  const buffers = [
    ...modelBuffers(config),
    ...activationBuffers(config, batch, seq),
    ...(adapter ? adapterBuffers(adapter.spec, adapter.modules) : []),
  ];
  const largest = buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return {
    weights,
    adapter: adapterBytes,
    activations,
    total: weights + adapterBytes + activations,
    largestBuffer: largest.bytes,
    largest,
  };
}

/**
 * WebGPU exposes no device memory size. The budget is the larger of 2 GiB and half of what
 * navigator.deviceMemory reports (Chrome caps that at 8 GiB), a conservative guess that holds on
 * integrated GPUs and software adapters alike.
 */
export function memoryBudget(limits: BufferLimits, deviceMemoryGiB: number | undefined): DeviceBudget {
  const gib = 1024 ** 3;
  const totalBytes = Math.max(2 * gib, ((deviceMemoryGiB ?? 4) * gib) / 2);
  return { maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize, maxBufferSize: limits.maxBufferSize, totalBytes };
}

/** The most bytes one storage buffer may hold on the device, and which limit says so. */
export function bufferLimit(limits: BufferLimits): { readonly bytes: number; readonly name: keyof BufferLimits } {
  return limits.maxBufferSize < limits.maxStorageBufferBindingSize
    ? { bytes: limits.maxBufferSize, name: 'maxBufferSize' }
    : { bytes: limits.maxStorageBufferBindingSize, name: 'maxStorageBufferBindingSize' };
}

/** "a 4.9 GiB buffer for the attention probabilities [20000, 4, 128, 128]; this device allows 1.0 GiB per buffer (maxStorageBufferBindingSize)". */
export function describeNeed(n: BufferNeed, limits: BufferLimits): string {
  const limit = bufferLimit(limits);
  return `a ${formatBytes(n.bytes)} buffer for ${n.what} [${n.shape.join(', ')}]; this device allows ${formatBytes(limit.bytes)} per buffer (${limit.name})`;
}

/** The largest of the buffers that does not fit the device, or null when all do. */
export function oversized(needs: readonly BufferNeed[], limits: BufferLimits): BufferNeed | null {
  const limit = bufferLimit(limits).bytes;
  let worst: BufferNeed | null = null;
  for (const n of needs) if (n.bytes > limit && (!worst || n.bytes > worst.bytes)) worst = n;
  return worst;
}

/** Where a run does not fit the device: which setting, what it needs, and (for the batch) how many sequences would fit. */
export type FitProblem =
  | { readonly setting: 'rank'; readonly max: number; readonly why: string }
  | { readonly setting: 'rank' | 'batch' | 'model'; readonly need: BufferNeed; readonly maxBatch?: number };

export interface FitInput {
  readonly config: ModelConfig;
  /** Sequences per micro-batch (one forward and backward) and their length in tokens. */
  readonly batch: number;
  readonly seq: number;
  /** The adapter to make (its spec and adapted layers); null for full-rank training or none. */
  readonly adapter: { readonly spec: AdapterSpec; readonly modules: readonly LinearModuleInfo[] } | null;
  /** The whole [T, vocab] logits are kept (evaluation that returns them). */
  readonly wholeLogits?: boolean;
}

/**
 * The one check of a run's sizes before anything is allocated, for the CLI and the studio: the
 * rank against the method's bound on the adapted layers (the registry's `format.maxRank`), then,
 * with the device's limits, every buffer the model, the adapter and one micro-batch need against
 * the per-buffer limits. Null when it fits.
 */
export function fitProblem(input: FitInput, limits: BufferLimits | null): FitProblem | null {
  const { config, batch, seq, adapter } = input;
  if (adapter) {
    const bound = ADAPTER_METHODS[adapter.spec.method].format.maxRank(adapter.modules);
    if (bound && adapter.spec.rank > bound.max) return { setting: 'rank', max: bound.max, why: bound.why };
  }
  if (!limits) return null;
  const model = oversized(modelBuffers(config), limits);
  if (model) return { setting: 'model', need: model };
  const tensors = adapter ? oversized(adapterBuffers(adapter.spec, adapter.modules), limits) : null;
  if (tensors) return { setting: 'rank', need: tensors };
  const opts = { wholeLogits: input.wholeLogits === true };
  const activation = oversized(activationBuffers(config, batch, seq, opts), limits);
  if (!activation) return null;
  // Every activation buffer grows linearly with the sequences of the micro-batch.
  const limit = bufferLimit(limits).bytes;
  const maxBatch = Math.min(...activationBuffers(config, 1, seq, opts).map((n) => Math.floor(limit / n.bytes)));
  return { setting: 'batch', need: activation, maxBatch };
}

/** A run that does not fit, refused before anything is allocated; `setting` is the flag or field to change. */
export class TooLargeError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
    this.name = 'TooLargeError';
  }
}

/** Why the run will not fit, or null when it does. */
/** Another setting and its estimate, for the message of a run that does not fit. */
export interface FitAlternative {
  /** What to change, as the user would ("turn on gradient checkpointing"). */
  readonly change: string;
  readonly estimate: MemoryEstimate;
}

export function whyItDoesNotFit(m: MemoryEstimate, b: DeviceBudget, alternatives: readonly FitAlternative[] = []): string | null {
  const limit = bufferLimit(b).bytes;
  if (m.largestBuffer > limit) {
    const fix = { batch: 'use a shorter sequence or a smaller batch', adapter: 'use a smaller rank', model: 'pick a smaller model' }[
      m.largest.sizedBy
    ];
    return `its largest tensor, ${m.largest.what} [${m.largest.shape.join(', ')}], needs ${formatBytes(m.largestBuffer)} but this GPU binds at most ${formatBytes(limit)} per buffer; ${fix}`;
  }
  if (m.total > b.totalBytes) {
    const need = `training needs about ${formatBytes(m.total)} of GPU memory but the budget on this device is ${formatBytes(b.totalBytes)}`;
    const fits = alternatives.find((a) => a.estimate.total <= b.totalBytes && a.estimate.largestBuffer <= limit);
    if (fits) return `${need}; ${fits.change}: then it needs about ${formatBytes(fits.estimate.total)}`;
    return `${need}; pick a smaller model, batch or sequence length`;
  }
  return null;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
