/**
 * The LM head and the cross-entropy loss over the vocabulary in chunks of rows, so that no pass
 * holds the whole [T, V] logits: at T = 512 and Qwen's V = 151,936 they are 311 MB, more than a
 * small device binds (128 MiB) and more than the rest of a LoRA step's activations. Each chunk's
 * logits become their own gradient in place (crossEntropy's WRITE_GRAD), give their rows of
 * d loss/d hidden and, when the head trains, add their part of its gradient; then the buffer is
 * reused by the next chunk. Rows are independent in both the loss and the hidden gradient, so
 * only the head's gradient sums in another order than the unchunked pass.
 */
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { crossEntropy } from '../kernels/loss';
import { matmul } from '../kernels/matmul';
import type { Transformer } from '../model/transformer';

/**
 * The most bytes one chunk of logits takes. Large enough that each chunk's matmul still has
 * rows to spread over a GPU (110 rows at V = 151,936), small beside any model's weights.
 */
export const HEAD_CHUNK_BYTES = 64 * 2 ** 20;

/** The device limits a chunk must fit (the runtime's GpuInfo has them). */
export interface HeadChunkLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
}

/** Rows per chunk: as many as fit the budget and the device's binding and buffer limits, at least one. */
export function headChunkRows(limits: HeadChunkLimits, T: number, V: number, budgetBytes = HEAD_CHUNK_BYTES): number {
  const bytes = Math.min(budgetBytes, limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  return Math.max(1, Math.min(T, Math.floor(bytes / (4 * V))));
}

export interface HeadLossArgs {
  /** The final norm's output [T, C] (Transformer.forwardHidden). */
  readonly hidden: Tensor;
  /** [T] i32 next-token targets, −100 = ignored. */
  readonly targets: Tensor;
  /** [T] per-row losses out (0 for ignored rows); their sum times invCount is the loss. */
  readonly losses: Tensor;
  readonly T: number;
  /** 1 / number of counted targets (the loss is their mean). */
  readonly invCount: number;
  /** [T, C] d loss/d hidden out, or null for the loss alone. */
  readonly dHidden: Tensor | null;
  /** The head's gradient to add to when it trains (full-rank training), else undefined. */
  readonly dHead?: Tensor | undefined;
  /** Rows per chunk (default: headChunkRows). */
  readonly rows?: number;
}

/** Records the head's logits, the loss and (with dHidden) its gradients, chunk by chunk. */
export function recordHeadLoss(rt: GpuRuntime, model: Transformer, a: HeadLossArgs): void {
  const { hiddenSize: C, vocabSize: V } = model.config;
  const limit = { maxStorageBufferBindingSize: model.maxTensorBytes, maxBufferSize: model.maxTensorBytes };
  const rows = Math.max(1, Math.min(a.T, a.rows ?? headChunkRows(limit, a.T, V)));
  const whole = rows === a.T;
  const logits = rt.tensor([rows, V], 'logits_chunk');
  const targets = whole ? a.targets : rt.intTensor(new Int32Array(rows), 'targets_chunk');
  const losses = whole ? a.losses : rt.tensor([rows], 'losses_chunk');
  for (let r0 = 0; r0 < a.T; r0 += rows) {
    const n = Math.min(rows, a.T - r0);
    model.headForward(a.hidden, r0, n, logits);
    if (!whole) rt.copy(a.targets, targets, n, r0, 0);
    crossEntropy(rt, { logits, targets, losses, T: n, V, invCount: a.invCount, writeGrad: a.dHidden !== null });
    if (!whole) rt.copy(losses, a.losses, n, 0, r0);
    if (a.dHidden === null) continue;
    if (a.dHead) matmul(rt, { a: logits, b: a.hidden, bOffset: r0 * C, c: a.dHead, M: V, N: C, K: n, transA: true, beta: 1 });
    model.headBackwardInput(logits, n, a.dHidden, r0);
  }
  rt.release(logits);
  if (!whole) rt.release(targets, losses);
}
