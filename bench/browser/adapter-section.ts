/**
 * Section 3: the step time of LoRA, DoRA and VeRA (forward, backward, clipping, AdamW) against
 * the frozen model's forward + backward alone, on the model of the training-step section,
 * timed in interleaved rounds (adapterStepTimes): 2·repeats + 1 of them.
 */
import type { GpuRuntime } from '../../src/gpu/runtime';
import { Transformer } from '../../src/model/transformer';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { benchTokenIds } from '../common';
import { adapterStepTimes } from '../engine-bench';
import { METHOD_NAMES } from '../../src/adapters';
import { measure, type AdapterCostResult, type BenchSizes } from '../results';
import { failOnGpuErrors } from './gpu-errors';
import { syntheticLlama } from '../synthetic-model';

export async function adapterSection(rt: GpuRuntime, sizes: BenchSizes, log: (line: string) => void): Promise<AdapterCostResult> {
  const { batch: B, seq: S, stepDims: dims, repeats, rank } = sizes;
  const { config, weights } = syntheticLlama(dims);
  const model = new Transformer(rt, config, weights);
  const ids = benchTokenIds(B * S, dims.vocab);
  const batch = uploadBatch(rt, { inputIds: ids, labels: ids, batch: B, seq: S });
  try {
    log(`adapters: frozen, LoRA, DoRA, VeRA in ${2 * repeats + 1} interleaved rounds`);
    const times = failOnGpuErrors(rt.device, () => adapterStepTimes(rt, model, batch, 2 * repeats + 1, rank));
    const pick = async (name: keyof Awaited<typeof times>) => [name, await measure(async () => (await times)[name])] as const;
    const entries = [await pick('frozen')];
    for (const m of METHOD_NAMES) entries.push(await pick(m));
    return Object.fromEntries(entries) as AdapterCostResult;
  } finally {
    releaseBatch(rt, batch);
    model.destroy();
  }
}
