/**
 * The token lengths of a dataset's pair and chat rows, summarised for choosing a sequence length:
 * percentiles, a small histogram, and the length that keeps 95 % of the rows whole.
 */

export interface LengthBin {
  /** Rows with from ≤ length ≤ to. */
  readonly from: number;
  readonly to: number;
  readonly count: number;
}

export interface LengthStats {
  readonly rows: number;
  readonly min: number;
  readonly median: number;
  /** 95 % of the rows have at most this many tokens (nearest rank). */
  readonly p95: number;
  readonly max: number;
  readonly bins: readonly LengthBin[];
  /** p95 rounded up to a multiple of SEQ_LEN_STEP, capped at the model's positions. */
  readonly suggestedSeqLen: number;
}

export const SEQ_LEN_STEP = 8;
const BINS = 8;

/** The nearest-rank percentile (q in 0..1) of sorted values. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('percentile of no values');
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The sequence length for rows of this p95: rounded up to SEQ_LEN_STEP, at most maxPositions. */
export function suggestedSeqLen(p95: number, maxPositions: number): number {
  return Math.max(2, Math.min(maxPositions, Math.ceil(p95 / SEQ_LEN_STEP) * SEQ_LEN_STEP));
}

/** Null when there are no lengths (a plain-text dataset: packed, so any length fits). */
export function lengthStats(lengths: readonly number[], maxPositions: number): LengthStats | null {
  if (lengths.length === 0) return null;
  const sorted = [...lengths].sort((a, b) => a - b);
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  const p95 = percentile(sorted, 0.95);
  // A few very long rows would squeeze everything else into the first bar: past twice the 95 %
  // length they share one last, wider bar.
  const top = max <= 2 * p95 ? max : Math.ceil(p95 * 1.25);
  const width = Math.max(1, Math.ceil((top - min + 1) / BINS));
  const bins: LengthBin[] = [];
  for (let from = min; from <= top; from += width) {
    const to = Math.min(top, from + width - 1);
    bins.push({ from, to, count: sorted.filter((n) => n >= from && n <= to).length });
  }
  if (top < max) bins.push({ from: top + 1, to: max, count: sorted.filter((n) => n > top).length });
  return { rows: sorted.length, min, median: percentile(sorted, 0.5), p95, max, bins, suggestedSeqLen: suggestedSeqLen(p95, maxPositions) };
}
