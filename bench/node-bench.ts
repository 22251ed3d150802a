/**
 * `npm run bench:node`: kernel and training-step throughput on Dawn's WebGPU in Node.
 * Not a test: it prints numbers, it asserts nothing. Compare within one run (ratios); absolute
 * times depend on the adapter (SwiftShader on a CPU is ~1000× slower than a real GPU).
 * `npm run bench` runs the fuller comparison in headless Chromium (bench/run.ts).
 *   --tokens N     rows of the matmul shapes (default 512: batch 4 × sequence 128)
 *   --step-seq N   sequence length of the timed training steps (default 64, batch 1)
 *   --repeats N    timed repetitions (default 3)
 */
import { ADAPTER_METHODS, METHOD_NAMES } from '../src/adapters';
import { createNodeRuntime } from '../src/gpu/node';
import type { GpuRuntime } from '../src/gpu/runtime';
import { Transformer } from '../src/model/transformer';
import { releaseBatch, uploadBatch } from '../src/train/device-batch';
import { benchAdapterSpec, benchTokenIds, LLAMA_21M, matmulCases, median } from './common';
import { createAdapter } from '../src/adapters/load';
import { headChunkRows } from '../src/train/head-loss';
import { recordLoss } from '../src/train/step';
import { adapterStepTimes, ourMatmulGflops } from './engine-bench';
import { syntheticLlama } from './synthetic-model';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const TOKENS = flag('tokens', 512);
const STEP_SEQ = flag('step-seq', 64);
const REPEATS = flag('repeats', 3);

async function benchMatmul(rt: GpuRuntime): Promise<void> {
  console.log(`\nmatmul at the shapes of a ~21M-parameter Llama, T = ${TOKENS} tokens (median of ${REPEATS})`);
  console.log(
    `GFLOP/s of each kernel; 'auto' is what the engine uses on this adapter (${rt.info.cpuAdapter ? 'a CPU adapter: direct' : 'a GPU: tiled'})`,
  );
  const kernels = [
    ['auto', {}],
    ['tiled vec4', { tile: 'square' }],
    ['tiled scalar', { tile: 'square', scalar: true }],
    ['narrow vec4', { tile: 'narrow' }],
    ['direct vec4', { tile: 'direct' }],
    ['direct scalar', { tile: 'direct', scalar: true }],
    ['direct 16×16', { tile: 'direct-wide' }],
  ] as const;
  console.log('shape'.padEnd(28), ...kernels.map(([name]) => name.padStart(14)), 'auto ÷ tiled'.padStart(15));
  for (const c of matmulCases(TOKENS, LLAMA_21M)) {
    const gflops: number[] = [];
    for (const [, timing] of kernels) gflops.push(await ourMatmulGflops(rt, c, REPEATS, timing));
    const [auto, tiled, , narrow] = gflops;
    const bestTiled = Math.max(tiled!, c.N <= 16 || c.M <= 16 ? narrow! : 0);
    console.log(c.name.padEnd(28), ...gflops.map((g) => g.toFixed(2).padStart(14)), `${(auto! / bestTiled).toFixed(2)}×`.padStart(15));
  }
}

async function benchSteps(rt: GpuRuntime): Promise<void> {
  const { config, weights } = syntheticLlama(LLAMA_21M);
  const model = new Transformer(rt, config, weights);
  const S = STEP_SEQ;
  const ids = benchTokenIds(S, LLAMA_21M.vocab);
  const batch = uploadBatch(rt, { inputIds: ids, labels: ids, batch: 1, seq: S });
  console.log(
    `\ntraining step, ${(model.parameterCount / 1e6).toFixed(1)}M-parameter Llama, batch 1 × ${S} tokens, rank 8 on q,k,v,o (median of ${2 * REPEATS + 1} interleaved rounds)`,
  );
  const t = await adapterStepTimes(rt, model, batch, 2 * REPEATS + 1);
  console.log('frozen model forward + backward'.padEnd(36), `${t.frozen.toFixed(0).padStart(7)} ms`, '  1.00×');
  for (const method of METHOD_NAMES) {
    const ms = t[method];
    const vsLora = method === 'lora' ? '' : `   (${(ms / t.lora).toFixed(2)}× LoRA)`;
    console.log(
      `${ADAPTER_METHODS[method].format.label} step (fwd + bwd + AdamW)`.padEnd(36),
      `${ms.toFixed(0).padStart(7)} ms`,
      `  ${(ms / t.frozen).toFixed(2)}×${vsLora}`,
    );
  }
  console.log(`peak GPU buffer bytes from the pool: ${(rt.pool.peakBytes / 2 ** 20).toFixed(1)} MiB`);
  releaseBatch(rt, batch);
  model.destroy();
}

/**
 * The LM head and loss at a Qwen-sized vocabulary: the most pool bytes held in a LoRA step with
 * the logits of all rows at once (one chunk) and with the default chunks (train/head-loss.ts),
 * on a one-layer model whose weights are small beside its vocabulary.
 */
async function benchHeadMemory(rt: GpuRuntime): Promise<void> {
  const dims = { hidden: 64, layers: 1, heads: 4, kvHeads: 4, intermediate: 128, vocab: 151_936, maxPositions: 512 };
  const { config, weights } = syntheticLlama(dims);
  const model = new Transformer(rt, config, weights);
  const S = 512;
  const ids = benchTokenIds(S, dims.vocab);
  const batch = uploadBatch(rt, { inputIds: ids, labels: ids, batch: 1, seq: S });
  const adapter = await createAdapter(rt, model, benchAdapterSpec('lora'), 1);
  const lossOut = rt.tensor([1], 'loss');
  console.log(`\nLM head + loss, vocabulary ${dims.vocab.toLocaleString('en-US')}, 1 × ${S} tokens, LoRA step (most pool bytes held)`);
  const peakOf = async (rows: number | undefined) => {
    await rt.sync();
    const before = rt.pool.bytesInUse;
    rt.pool.peakBytes = before;
    recordLoss(rt, model, adapter, batch, { training: true, seed: 0 }, { withGrad: true, lossOut, headRows: rows });
    await rt.sync();
    return rt.pool.peakBytes - before;
  };
  const whole = await peakOf(S);
  const chunked = await peakOf(undefined);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  console.log('all rows at once'.padEnd(36), mib(whole).padStart(12));
  console.log(
    `chunks of ${headChunkRows(rt.info, S, dims.vocab)} rows`.padEnd(36),
    mib(chunked).padStart(12),
    `  ${(whole / chunked).toFixed(2)}× less`,
  );
  rt.release(lossOut);
  adapter.destroy(rt);
  releaseBatch(rt, batch);
  model.destroy();
}

/**
 * Gradient checkpointing's trade on the ~21M Llama at 1 × 256 tokens: a LoRA step's median time
 * and most pool bytes held, without and with recomputing each layer in backward.
 */
async function benchCheckpointing(rt: GpuRuntime): Promise<void> {
  const { config, weights } = syntheticLlama(LLAMA_21M);
  const model = new Transformer(rt, config, weights);
  const S = 256;
  const ids = benchTokenIds(S, LLAMA_21M.vocab);
  const batch = uploadBatch(rt, { inputIds: ids, labels: ids, batch: 1, seq: S });
  const adapter = await createAdapter(rt, model, benchAdapterSpec('lora'), 1);
  const lossOut = rt.tensor([1], 'loss');
  console.log(`\ngradient checkpointing, ${(model.parameterCount / 1e6).toFixed(1)}M Llama, 1 × ${S} tokens, LoRA step (median of 3)`);
  const measure = async (recompute: boolean) => {
    model.recomputeLayers = recompute;
    const times: number[] = [];
    let peak = 0;
    for (let i = 0; i < 3; i++) {
      await rt.sync();
      const before = rt.pool.bytesInUse;
      rt.pool.peakBytes = before;
      const t0 = performance.now();
      recordLoss(rt, model, adapter, batch, { training: true, seed: 0 }, { withGrad: true, lossOut });
      await rt.sync();
      times.push(performance.now() - t0);
      peak = rt.pool.peakBytes - before;
    }
    return { ms: median(times), peak };
  };
  const off = await measure(false);
  const on = await measure(true);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  console.log('off'.padEnd(36), `${off.ms.toFixed(0).padStart(7)} ms`, mib(off.peak).padStart(12));
  console.log(
    'on (recompute each layer)'.padEnd(36),
    `${on.ms.toFixed(0).padStart(7)} ms`,
    mib(on.peak).padStart(12),
    `  ${(on.ms / off.ms).toFixed(2)}× the time, ${(off.peak / on.peak).toFixed(2)}× less memory`,
  );
  model.recomputeLayers = false;
  rt.release(lossOut);
  adapter.destroy(rt);
  releaseBatch(rt, batch);
  model.destroy();
}

async function main(): Promise<void> {
  const rt = await createNodeRuntime();
  console.log(`adapter: ${rt.info.description}; features: ${rt.info.features.join(', ')}`);
  await benchMatmul(rt);
  await benchSteps(rt);
  await benchHeadMemory(rt);
  await benchCheckpointing(rt);
  rt.destroy();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
