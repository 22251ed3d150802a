/**
 * Section 5 (`npm run bench -- --profile`): where a LoRA training step's GPU time goes, kernel
 * by kernel, from timestamp-query (src/gpu/profiler.ts), on the model of the training-step
 * section. Each dispatch gets a pass of its own while profiling, so the total is a little above
 * an unprofiled step: the shares are what to read.
 */
import { createAdapter } from '../../src/adapters/load';
import type { GpuRuntime } from '../../src/gpu/runtime';
import { Transformer } from '../../src/model/transformer';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { Trainer } from '../../src/train/trainer';
import { benchAdapterSpec, BENCH_HYPER, benchTokenIds } from '../common';
import type { BenchSizes, ProfileResult } from '../results';
import { syntheticLlama } from '../synthetic-model';
import { failOnGpuErrors } from './gpu-errors';

export async function profileSection(rt: GpuRuntime, sizes: BenchSizes, log: (line: string) => void): Promise<ProfileResult> {
  const { batch: B, seq: S, stepDims: dims, repeats, rank } = sizes;
  const { config, weights } = syntheticLlama(dims);
  const model = new Transformer(rt, config, weights);
  const adapter = await createAdapter(rt, model, benchAdapterSpec('lora', rank), 1);
  const ids = benchTokenIds(B * S, dims.vocab);
  const batch = uploadBatch(rt, { inputIds: ids, labels: ids, batch: B, seq: S });
  const trainer = new Trainer(rt, model, adapter, BENCH_HYPER);
  const step = () =>
    failOnGpuErrors(rt.device, () => {
      trainer.recordGradients(batch);
      trainer.recordUpdate(BENCH_HYPER.lr);
      return rt.sync();
    });
  try {
    log('profile: warm-up step');
    await step(); // pipelines compile and buffers are created outside the timed steps
    const profiler = rt.enableProfiling();
    profiler.reset();
    for (let i = 0; i < repeats; i++) {
      log(`profile: step ${i + 1}/${repeats}`);
      await step();
    }
    return { steps: repeats, kernels: await profiler.report() };
  } finally {
    // Detach the profiler so that later work on this runtime runs in plain passes again.
    rt.flush();
    rt.profiler?.destroy();
    rt.profiler = null;
    trainer.destroy();
    releaseBatch(rt, batch);
    adapter.destroy(rt);
    model.destroy();
  }
}
