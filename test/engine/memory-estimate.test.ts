/**
 * The studio's memory estimate before a run (train/memory.ts) against what a LoRA step really
 * holds at its peak (the buffer pool's most bytes in use): within 15 % on the bundled models, at
 * several batch shapes, with and without gradient checkpointing.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAdapter } from '../../src/adapters/load';
import { readModelFolder } from '../../src/formats/node-fs';
import { targetedModules } from '../../src/formats/peft';
import { Transformer } from '../../src/model/transformer';
import { adapterSpecFor } from '../../src/train/adapter-spec';
import { trainHyper } from '../../src/train/defaults';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { estimateTrainingMemory } from '../../src/train/memory';
import { Trainer } from '../../src/train/trainer';
import { useGpu } from '../helpers/gpu';

const gpu = useGpu();
const MODELS = join(__dirname, '..', '..', 'public', 'models');

const CASES: [string, number, number, boolean][] = [
  // [model, batch, seq, checkpointing]
  ['kjv-tiny', 4, 64, false],
  ['kjv-tiny', 8, 128, false],
  ['kjv-tiny', 8, 128, true],
  ['dev-tiny', 2, 32, false],
];

describe('the memory estimate', () => {
  it.each(CASES)('%s, %i × %i tokens (checkpointing %s): within 15 %% of the measured peak', async (name, B, S, checkpointing) => {
    const rt = gpu();
    const folder = await readModelFolder(join(MODELS, name));
    const config = folder.config;
    const spec = adapterSpecFor({ method: 'lora', rank: 8, alpha: 16, rslora: false, dropout: 0, targets: ['q_proj', 'v_proj'] }, config);
    const ids = Int32Array.from({ length: B * S }, (_, i) => (i * 7919) % config.vocabSize);

    await rt.sync();
    const before = rt.pool.bytesInUse;
    rt.pool.peakBytes = before;
    const model = new Transformer(rt, config, folder.weights);
    model.recomputeLayers = checkpointing;
    const adapter = await createAdapter(rt, model, spec, 1);
    const trainer = new Trainer(rt, model, adapter, trainHyper(1e-3));
    const batch = uploadBatch(rt, { inputIds: ids, labels: ids, batch: B, seq: S });
    await trainer.trainStep(batch);
    await rt.sync();
    const measured = rt.pool.peakBytes - before;

    const trainable = adapter.parameters().reduce((n, p) => n + p.value.numel, 0);
    const modules = targetedModules(spec, config, 'test');
    const estimate = estimateTrainingMemory(
      config,
      model.parameterCount,
      trainable,
      B,
      S,
      { spec, modules },
      { checkpointing, limits: rt.info },
    );
    console.log(
      `${name} ${B}×${S}${checkpointing ? ' checkpointed' : ''}: estimate ${estimate.total}, measured ${measured}, ratio ${(estimate.total / measured).toFixed(3)}`,
    );
    expect(estimate.total / measured).toBeGreaterThan(0.85);
    expect(estimate.total / measured).toBeLessThan(1.15);

    releaseBatch(rt, batch);
    trainer.destroy();
    adapter.destroy(rt);
    model.destroy();
  });
});
