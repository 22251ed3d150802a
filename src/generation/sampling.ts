import { seededRandom } from '../adapters/init';

export interface SamplingOptions {
  /** 0 = greedy. */
  readonly temperature: number;
  /** 0 = no top-k cut. */
  readonly topK: number;
}

/** Picks the next token from one row of logits: argmax when greedy, else top-k softmax sampling. */
export function sampleToken(logits: Float32Array, opts: SamplingOptions, random: () => number): number {
  if (opts.temperature <= 0) return argmax(logits);
  const candidates = topKIndices(logits, opts.topK > 0 ? opts.topK : logits.length);
  const maxLogit = logits[candidates[0]!]!;
  const weights = candidates.map((i) => Math.exp((logits[i]! - maxLogit) / opts.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let r = random() * total;
  for (let k = 0; k < candidates.length; k++) {
    r -= weights[k]!;
    if (r <= 0) return candidates[k]!;
  }
  return candidates[candidates.length - 1]!;
}

export function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

/** Indices of the k largest values, largest first. */
export function topKIndices(v: Float32Array, k: number): number[] {
  const idx = Array.from(v.keys());
  idx.sort((a, b) => v[b]! - v[a]!);
  return idx.slice(0, Math.min(k, v.length));
}

export { seededRandom };
