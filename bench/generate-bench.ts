/**
 * `npm run bench:generate -- [--model DIR] [--prompt N] [--tokens N]`: generation speed with the
 * KV cache (generation/generate.ts) against rerunning the whole prefix for every token and reading
 * its logits back (what generation did before the cache), side by side in one run on Dawn's
 * WebGPU in Node. Not a test: it prints tokens/s and their ratio, and asserts nothing. Both
 * paths decode greedily, so they also print whether they picked the same tokens.
 * The model defaults to the bundled kjv-tiny; a folder from `npm run real-shapes` works too (its
 * random prompt ids come from batch.json when it has no tokenizer).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '../src/generation/generate';
import { sampleToken } from '../src/generation/sampling';
import { parseBatch } from '../src/formats/batch';
import { readModelFolder } from '../src/formats/node-fs';
import { createNodeRuntime } from '../src/gpu/node';
import type { GpuRuntime } from '../src/gpu/runtime';
import { Transformer } from '../src/model/transformer';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const MODEL = flag('model', 'public/models/kjv-tiny');
const PROMPT = Number(flag('prompt', '32'));
const TOKENS = Number(flag('tokens', '32'));
const GREEDY = { temperature: 0, topK: 0, seed: 0 };

/** The prompt: the first ids of the folder's batch.json, or a fixed pattern of small ids. */
function promptIds(vocab: number): number[] {
  try {
    const path = join(MODEL, 'batch.json');
    return Array.from(parseBatch(readFileSync(path, 'utf8'), path, vocab).inputIds.subarray(0, PROMPT));
  } catch {
    return Array.from({ length: PROMPT }, (_, i) => (i * 7 + 3) % vocab);
  }
}

/** The old way: every token reruns the whole prefix and reads all S × V logits. */
async function uncached(rt: GpuRuntime, model: Transformer, prompt: number[]): Promise<number[]> {
  const ids = [...prompt];
  const V = model.config.vocabSize;
  for (let n = 0; n < TOKENS; n++) {
    const tokens = rt.intTensor(new Uint32Array(ids), 'ids');
    const logits = model.forward({ ids: tokens, B: 1, S: ids.length }, null, { training: false, seed: 0 }, false);
    const all = await rt.read(logits);
    rt.release(tokens, logits);
    ids.push(sampleToken(all.subarray((ids.length - 1) * V), GREEDY, () => 0));
  }
  return ids.slice(prompt.length);
}

async function timed<T>(rt: GpuRuntime, job: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  await rt.sync();
  const t0 = performance.now();
  const value = await job();
  await rt.sync();
  return { value, seconds: (performance.now() - t0) / 1000 };
}

const folder = await readModelFolder(MODEL);
const rt = await createNodeRuntime();
const model = new Transformer(rt, folder.config, folder.weights);
const prompt = promptIds(folder.config.vocabSize);
const opts = { ...GREEDY, maxNewTokens: TOKENS, stopTokenIds: [] };
// One short warm-up of each path compiles the pipelines outside the timing.
await generate(rt, model, null, prompt.slice(0, 2), { ...opts, maxNewTokens: 2 }, () => undefined);
const cached = await timed(rt, async () => (await generate(rt, model, null, prompt, opts, () => undefined)).ids);
const plain = await timed(rt, () => uncached(rt, model, prompt));
console.log(
  `${MODEL}: ${folder.config.family}, prompt ${prompt.length} tokens, ${TOKENS} new tokens, vocab ${folder.config.vocabSize} (${rt.info.description})`,
);
console.log(`KV cache:        ${(TOKENS / cached.seconds).toFixed(2)} tokens/s (${cached.seconds.toFixed(2)} s, prefill included)`);
console.log(`whole prefix:    ${(TOKENS / plain.seconds).toFixed(2)} tokens/s (${plain.seconds.toFixed(2)} s)`);
console.log(
  `ratio:           ${(plain.seconds / cached.seconds).toFixed(2)}× (same tokens: ${JSON.stringify(cached.value) === JSON.stringify(plain.value)})`,
);
model.destroy();
rt.destroy();
