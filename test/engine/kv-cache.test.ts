import { describe, expect, it } from 'vitest';
import { loadAdapter } from '../../src/adapters/load';
import { generate } from '../../src/generation/generate';
import { sampleToken } from '../../src/generation/sampling';
import type { GpuRuntime } from '../../src/gpu/runtime';
import type { Adapter } from '../../src/adapters/types';
import { KvCache } from '../../src/model/kv-cache';
import { Transformer } from '../../src/model/transformer';
import { useGpu } from '../helpers/gpu';
import { relErr } from '../helpers/ref';
import { loadCase } from './fixtures';

const gpu = useGpu();
const EVAL = { training: false, seed: 0 };

/** The last row's logits of a whole-prefix forward: what cached decoding must reproduce. */
async function prefixLogits(rt: GpuRuntime, model: Transformer, adapter: Adapter | null, ids: number[]): Promise<Float32Array> {
  const V = model.config.vocabSize;
  const tokens = rt.intTensor(new Uint32Array(ids), 'ids');
  const logits = model.forward({ ids: tokens, B: 1, S: ids.length }, adapter, EVAL, false);
  const all = await rt.read(logits);
  rt.release(tokens, logits);
  return all.slice((ids.length - 1) * V);
}

async function decodeLogits(
  rt: GpuRuntime,
  model: Transformer,
  adapter: Adapter | null,
  cache: KvCache,
  ids: number[],
): Promise<Float32Array> {
  const tokens = rt.intTensor(new Uint32Array(ids), 'ids');
  const logits = model.decode({ ids: tokens, B: 1, S: ids.length }, adapter, cache);
  const row = await rt.read(logits);
  rt.release(tokens, logits);
  return row;
}

// Every family and block layout: plain Llama, Llama 3 RoPE scaling, Qwen2 biases, Qwen3 q/k
// norms, Gemma 3 (sliding window of 4, shorter than the sequence), GPT-2 (learned positions).
const CASES = ['llama-lora-qv', 'llama3-rope-vera', 'qwen2-lora-bias', 'qwen3-dora', 'gemma3-lora', 'gpt2-dora'] as const;

describe.each(CASES)('cached decoding on %s', (name) => {
  it('prefill then one token at a time gives the whole-prefix logits, with and without the adapter', async () => {
    const rt = gpu();
    const c = await loadCase(name);
    const model = new Transformer(rt, c.model.config, c.model.weights);
    const adapter = loadAdapter(rt, model, c.adapter.spec, c.adapter.tensors, c.dir);
    const ids = Array.from(c.batch.inputIds.subarray(0, 12));
    expect(ids.length).toBeGreaterThan(8); // past Gemma's window of 4
    for (const a of [adapter, null]) {
      const cache = new KvCache(rt, model.config, ids.length);
      const prefill = 3;
      expect(
        relErr(await decodeLogits(rt, model, a, cache, ids.slice(0, prefill)), await prefixLogits(rt, model, a, ids.slice(0, prefill))),
      ).toBeLessThan(1e-5);
      for (let t = prefill; t < ids.length; t++) {
        const got = await decodeLogits(rt, model, a, cache, [ids[t]!]);
        expect(relErr(got, await prefixLogits(rt, model, a, ids.slice(0, t + 1))), `position ${t}`).toBeLessThan(1e-5);
      }
      expect(cache.length).toBe(ids.length);
      expect(() => model.decode({ ids: rt.intTensor(new Uint32Array([1]), 'x'), B: 1, S: 1 }, a, cache)).toThrow(/holds 12 positions/);
      cache.destroy();
    }
    adapter.destroy(rt);
    model.destroy();
  });
});

describe('generate', () => {
  it('with the cache, picks the same greedy tokens as rerunning the whole prefix, and stops at any stop id', async () => {
    const rt = gpu();
    const c = await loadCase('gemma3-lora');
    const model = new Transformer(rt, c.model.config, c.model.weights);
    const prompt = Array.from(c.batch.inputIds.subarray(0, 3));
    const opts = { maxNewTokens: 10, seed: 0, temperature: 0, topK: 0, stopTokenIds: [] };
    const random = () => 0;
    const naive: number[] = [];
    for (let n = 0; n < opts.maxNewTokens; n++)
      naive.push(sampleToken(await prefixLogits(rt, model, null, [...prompt, ...naive]), opts, random));
    const seen: number[][] = [];
    expect(await generate(rt, model, null, prompt, opts, (g) => void seen.push([...g]))).toEqual({ ids: naive, stopId: null });
    expect(seen.at(-1)).toEqual(naive);
    // Stops before the first stop id (either of two), which is not part of the output.
    const stopId = naive[naive.length - 1]!;
    const stopped = await generate(rt, model, null, prompt, { ...opts, stopTokenIds: [123456, stopId] }, () => undefined);
    expect(stopped).toEqual({ ids: naive.slice(0, naive.indexOf(stopId)), stopId });
    // Capacity ends at the model's positions: a prompt one short of them gets one token.
    const long = Array.from({ length: model.config.maxPositions - 1 }, (_, i) => prompt[i % prompt.length]!);
    expect((await generate(rt, model, null, long, opts, () => undefined)).ids).toHaveLength(1);
    await expect(generate(rt, model, null, [], opts, () => undefined)).rejects.toThrow(/no tokens/);
    model.destroy();
  });
});
