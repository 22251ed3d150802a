/**
 * Section 3: the step time of LoRA, DoRA and VeRA (forward, backward, clipping, AdamW) against
 * the frozen model's forward + backward alone, on the model of the training-step section.
 */
import type { GpuRuntime } from '../../src/gpu/runtime';
import { Transformer } from '../../src/model/transformer';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { benchTokenIds } from '../common';
import { adapterStepMs, frozenStepMs } from '../engine-bench';
import { measure, type AdapterCostResult, type BenchSizes } from '../results';
import { failOnGpuErrors } from './gpu-errors';
import { syntheticLlama } from '../synthetic-model';

export async function adapterSection(rt: GpuRuntime, sizes: BenchSizes, log: (line: string) => void): Promise<AdapterCostResult> {
  const { batch: B, seq: S, stepDims: dims, repeats, rank } = sizes;
  const { config, weights } = syntheticLlama(dims);
  const model = new Transformer(rt, config, weights);
  const ids = benchTokenIds(B * S, dims.vocab);
  const batch = uploadBatch(rt, { inputIds: ids, labels: ids, batch: B, seq: S });
  const timed = (name: string, run: () => Promise<number>) => {
    log(`adapters: ${name}`);
    return measure(() => failOnGpuErrors(rt.device, run));
  };
  try {
    const frozen = await timed('frozen forward + backward', () => frozenStepMs(rt, model, batch, repeats));
    const lora = await timed('LoRA', () => adapterStepMs(rt, model, 'lora', batch, repeats, rank));
    const dora = await timed('DoRA', () => adapterStepMs(rt, model, 'dora', batch, repeats, rank));
    const vera = await timed('VeRA', () => adapterStepMs(rt, model, 'vera', batch, repeats, rank));
    return { frozen, lora, dora, vera };
  } finally {
    releaseBatch(rt, batch);
    model.destroy();
  }
}
