import { IGNORE_INDEX, type TokenBatch } from '../formats/batch';
import { seededRandom } from '../adapters/init';
import type { TokenSequence } from './tokenize';

/** Seeded Fisher–Yates shuffle of 0..n-1. */
export function shuffledIndices(n: number, seed: number): number[] {
  const random = seededRandom(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Holds out `fraction` of the sequences (at least one when there are two or more) for validation. */
export function splitTrainVal<T>(items: readonly T[], fraction: number, seed: number): { train: T[]; val: T[] } {
  const order = shuffledIndices(items.length, seed);
  const wanted = Math.round(items.length * fraction);
  const valCount = items.length < 2 || fraction <= 0 ? 0 : Math.min(items.length - 1, Math.max(1, wanted));
  return {
    val: order.slice(0, valCount).map((i) => items[i]!),
    train: order.slice(valCount).map((i) => items[i]!),
  };
}

/** Sequences → one [batch, seq] TokenBatch, padded with `padId` and ignored labels. */
export function toTokenBatch(sequences: readonly TokenSequence[], seq: number, padId: number): TokenBatch {
  const batch = sequences.length;
  const inputIds = new Int32Array(batch * seq).fill(padId);
  const labels = new Int32Array(batch * seq).fill(IGNORE_INDEX);
  sequences.forEach((s, b) => {
    inputIds.set(s.ids.slice(0, seq), b * seq);
    labels.set(s.labels.slice(0, seq), b * seq);
  });
  return { inputIds, labels, batch, seq };
}

/** Endless micro-batches over the training set, reshuffled every epoch. */
export class BatchSampler {
  private order: number[] = [];
  private cursor = 0;
  epoch = 0;

  constructor(
    private readonly sequences: readonly TokenSequence[],
    private readonly batchSize: number,
    private readonly seed: number,
  ) {
    if (sequences.length === 0) throw new Error('no training sequences');
    this.reshuffle();
  }

  get stepsPerEpoch(): number {
    return Math.ceil(this.sequences.length / this.batchSize);
  }

  next(): TokenSequence[] {
    if (this.cursor >= this.order.length) {
      this.epoch++;
      this.reshuffle();
    }
    const picked = this.order.slice(this.cursor, this.cursor + this.batchSize);
    this.cursor += this.batchSize;
    return picked.map((i) => this.sequences[i]!);
  }

  private reshuffle(): void {
    this.order = shuffledIndices(this.sequences.length, this.seed + this.epoch * 7919);
    this.cursor = 0;
  }
}
