/**
 * What the Node (Dawn) bench and the browser bench share: model sizes, the matmul shapes of a
 * training step, the adapter settings, the optimizer settings and the timing loop. Nothing here
 * touches `navigator` or `node:*`, so both environments import it.
 */
import type { AdapterMethod, AdapterSpec } from '../src/formats/peft';
import type { TrainHyper } from '../src/train/trainer';
import { trainHyper } from '../src/train/defaults';

export interface LlamaDims {
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly intermediate: number;
  readonly vocab: number;
  readonly maxPositions: number;
}

/** ~21M parameters: hidden 512, 6 layers, intermediate 1408, vocabulary 4096 (tied). */
export const LLAMA_21M: LlamaDims = { hidden: 512, layers: 6, heads: 8, kvHeads: 8, intermediate: 1408, vocab: 4096, maxPositions: 512 };

export interface MatmulCase {
  readonly name: string;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly transA?: boolean;
  readonly transB?: boolean;
}

/** The products of one training step of a Llama of these dims over T tokens (forward and backward). */
export function matmulCases(T: number, dims: LlamaDims, rank = 8): MatmulCase[] {
  const { hidden: H, intermediate: I, vocab: V } = dims;
  return [
    { name: `X·Wᵀ  attention (${T}×${H}×${H})`, M: T, N: H, K: H, transB: true },
    { name: `X·Wᵀ  gate/up   (${T}×${I}×${H})`, M: T, N: I, K: H, transB: true },
    { name: `X·Wᵀ  down      (${T}×${H}×${I})`, M: T, N: H, K: I, transB: true },
    { name: `X·Wᵀ  lm head   (${T}×${V}×${H})`, M: T, N: V, K: H, transB: true },
    { name: `dY·W  attention (${T}×${H}×${H})`, M: T, N: H, K: H },
    { name: `dY·W  down      (${T}×${I}×${H})`, M: T, N: I, K: H },
    { name: `dYᵀ·X dW attn   (${H}×${H}×${T})`, M: H, N: H, K: T, transA: true },
    { name: `dYᵀ·X dW up     (${I}×${H}×${T})`, M: I, N: H, K: T, transA: true },
    { name: `LoRA x·Aᵀ       (${T}×${rank}×${H})`, M: T, N: rank, K: H, transB: true },
  ];
}

export function matmulFlops(c: MatmulCase): number {
  return 2 * c.M * c.N * c.K;
}

/** Every engine multiplies operands filled with these constants, so every product element is K·A·B. */
export const MATMUL_FILL = { a: 0.01, b: 0.02 } as const;

/** Throws unless an engine's product starts with the value constant operands give (a peer that silently did nothing shows here). */
export function checkConstantProduct(product: ArrayLike<number>, c: MatmulCase): void {
  const expected = c.K * MATMUL_FILL.a * MATMUL_FILL.b;
  const got = product[0];
  if (!(Math.abs(got! - expected) <= 1e-3 * expected)) throw new Error(`wrong product: C[0] = ${got}, expected ${expected}`);
}

/** Rank-8 (by default) adapter of `method` on q, k, v, o, without dropout, as the benches train it. */
export function benchAdapterSpec(method: AdapterMethod, rank = 8): AdapterSpec {
  return {
    method,
    rank,
    alpha: 2 * rank,
    rslora: false,
    dropout: 0,
    fanInFanOut: false,
    options: {},
    targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
  };
}

/** The training defaults (src/train/defaults.ts: AdamW 0.9/0.999/1e-8, clipping at 1, seed 0) at lr 1e-3. */
export const BENCH_HYPER: TrainHyper = trainHyper(1e-3);

/** Deterministic token ids spread over the vocabulary (a prime stride, so rows differ). */
export function benchTokenIds(count: number, vocab: number): Int32Array {
  return Int32Array.from({ length: count }, (_, i) => (i * 7919 + 13) % vocab);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Median wall time in ms of `run` followed by `sync` (which waits for the GPU), after one
 * untimed warm-up that compiles pipelines and fills buffer caches. SwiftShader timings are
 * noisy, hence the median.
 */
export async function medianMs(run: () => unknown, sync: () => Promise<void>, repeats: number): Promise<number> {
  await run();
  await sync();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await run();
    await sync();
    times.push(performance.now() - t0);
  }
  return median(times);
}
