import type { Adapter } from '../adapters/types';
import type { GpuRuntime } from '../gpu/runtime';
import { KvCache } from '../model/kv-cache';
import type { Transformer } from '../model/transformer';
import { sampleToken, seededRandom, type SamplingOptions } from './sampling';

export interface GenerateOptions extends SamplingOptions {
  readonly maxNewTokens: number;
  readonly seed: number;
  /** Stop when any of these tokens is produced (not included in the output). */
  readonly stopTokenIds: readonly number[];
}

export interface GenerationResult {
  /** The new tokens, without the stop token. */
  readonly ids: number[];
  /** The stop token that ended it, or null (the token limit, the model's positions, or onToken). */
  readonly stopId: number | null;
}

/**
 * Autoregressive generation with a KV cache: the prompt runs through the model once (prefill),
 * then each new token runs one row, and only the last row's logits [V] are read back (reading
 * every row of a 151,936-token vocabulary would be ~120 MB a token). `onToken` gets the ids
 * generated so far after every token; returning false stops early.
 */
export async function generate(
  rt: GpuRuntime,
  model: Transformer,
  adapter: Adapter | null,
  promptIds: readonly number[],
  opts: GenerateOptions,
  // biome-ignore lint/suspicious/noConfusingVoidType: a callback that returns nothing goes on; only false stops
  onToken: (generated: readonly number[]) => boolean | void,
): Promise<GenerationResult> {
  const maxLen = model.config.maxPositions;
  if (promptIds.length === 0) throw new Error('the prompt encodes to no tokens: there is nothing to continue');
  if (promptIds.length >= maxLen) {
    throw new Error(`the prompt has ${promptIds.length} tokens, which leaves none of the model's ${maxLen} positions to generate into`);
  }
  if (opts.maxNewTokens < 1) return { ids: [], stopId: null };
  const random = seededRandom(opts.seed);
  const generated: number[] = [];
  let stopId: number | null = null;
  // Every fed token needs a place; the last new token is never fed, and the whole sequence
  // stays within the model's positions.
  const cache = new KvCache(rt, model.config, Math.min(maxLen - 1, promptIds.length + opts.maxNewTokens - 1));
  try {
    let feed: readonly number[] = promptIds;
    while (generated.length < opts.maxNewTokens && cache.length + feed.length <= cache.capacity) {
      const next = sampleToken(await nextLogits(rt, model, adapter, cache, feed), opts, random);
      if (opts.stopTokenIds.includes(next)) {
        stopId = next;
        break;
      }
      generated.push(next);
      if (onToken(generated) === false) break;
      feed = [next];
    }
  } finally {
    cache.destroy();
  }
  return { ids: generated, stopId };
}

/** Runs `ids` through the model after what the cache holds; the logits of the last one. */
async function nextLogits(
  rt: GpuRuntime,
  model: Transformer,
  adapter: Adapter | null,
  cache: KvCache,
  ids: readonly number[],
): Promise<Float32Array> {
  const tokens = rt.intTensor(new Uint32Array(ids), 'gen.ids');
  const logits = model.decode({ ids: tokens, B: 1, S: ids.length }, adapter, cache);
  const row = await rt.read(logits);
  rt.release(tokens, logits);
  return row;
}

/**
 * The text the generated ids add to the prompt: decode(prompt + generated) minus decode(prompt).
 * Decoding the continuation alone can lose its leading space (SentencePiece-style decoders strip
 * a leading "▁"), and a token can merge with the prompt's last characters; when the whole
 * sequence does not decode to the prompt's text plus more, the continuation alone is used.
 */
export function continuationText(
  decode: (ids: readonly number[]) => string,
  promptIds: readonly number[],
  promptText: string,
  generated: readonly number[],
): string {
  if (generated.length === 0) return '';
  const whole = decode([...promptIds, ...generated]);
  return whole.startsWith(promptText) ? whole.slice(promptText.length) : decode(generated);
}
