import type { Adapter } from '../adapters/types';
import type { GpuRuntime } from '../gpu/runtime';
import type { Transformer } from '../model/transformer';
import { sampleToken, seededRandom, type SamplingOptions } from './sampling';

export interface GenerateOptions extends SamplingOptions {
  readonly maxNewTokens: number;
  readonly seed: number;
  /** Stop when any of these tokens is produced (not included in the output). */
  readonly stopTokenIds: readonly number[];
}

/**
 * Autoregressive generation without a KV cache (fine for tiny models): each new token runs the
 * forward pass over the whole prefix and samples from the last row's logits. `onToken` gets the
 * ids generated so far after every token; returning false stops early.
 */
export async function generate(
  rt: GpuRuntime, model: Transformer, adapter: Adapter | null, promptIds: readonly number[],
  opts: GenerateOptions, onToken: (generated: readonly number[]) => boolean | void,
): Promise<number[]> {
  const random = seededRandom(opts.seed);
  const ids = [...promptIds];
  const generated: number[] = [];
  const maxLen = model.config.maxPositions;
  for (let n = 0; n < opts.maxNewTokens && ids.length < maxLen; n++) {
    const row = await lastLogits(rt, model, adapter, ids);
    const next = sampleToken(row, opts, random);
    if (opts.stopTokenIds.includes(next)) break;
    ids.push(next);
    generated.push(next);
    if (onToken(generated) === false) break;
  }
  return generated;
}

async function lastLogits(rt: GpuRuntime, model: Transformer, adapter: Adapter | null, ids: readonly number[]): Promise<Float32Array> {
  const S = ids.length;
  const V = model.config.vocabSize;
  const tokens = rt.intTensor(new Uint32Array(ids), 'gen.ids');
  const logits = model.forward({ ids: tokens, hostIds: Int32Array.from(ids), B: 1, S }, adapter, { training: false, seed: 0 }, false);
  const all = await rt.read(logits, S * V);
  rt.release(tokens, logits);
  return all.subarray((S - 1) * V, S * V);
}
