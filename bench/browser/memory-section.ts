/**
 * Section 4: the GPU buffers our engine allocates for a LoRA training step, against the minimum
 * the step needs (bench/memory-minimum.ts). Every storage buffer comes from the runtime's pool,
 * whose allocatedBytes counts what exists; the uniform arena and read-back staging buffers are
 * outside it and small.
 */
import { createAdapter } from '../../src/adapters/load';
import type { GpuRuntime } from '../../src/gpu/runtime';
import { Transformer } from '../../src/model/transformer';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { Trainer } from '../../src/train/trainer';
import { benchAdapterSpec, BENCH_HYPER, benchTokenIds } from '../common';
import { loraStepMinimum } from '../memory-minimum';
import type { BenchSizes, MemoryResult } from '../results';
import { syntheticLlama } from '../synthetic-model';
import { failOnGpuErrors } from './gpu-errors';

/** Two steps: the first creates the step's buffers, the second shows whether the pool reuses them. */
const STEPS = 2;

export async function memorySection(rt: GpuRuntime, sizes: BenchSizes, log: (line: string) => void): Promise<MemoryResult> {
  const { batch: B, seq: S, stepDims: dims } = sizes;
  const pool = rt.pool;
  // Idle buffers left by earlier sections are not this step's.
  pool.trim();
  const start = pool.allocatedBytes;
  const { config, weights } = syntheticLlama(dims);
  const spec = benchAdapterSpec('lora', sizes.rank);
  const model = new Transformer(rt, config, weights);
  const adapter = await createAdapter(rt, model, spec, 1);
  const ids = benchTokenIds(B * S, dims.vocab);
  const batch = uploadBatch(rt, { inputIds: ids, labels: ids, batch: B, seq: S });
  const trainer = new Trainer(rt, model, adapter, BENCH_HYPER);
  try {
    const persistentBytes = pool.allocatedBytes - start;
    const inUseBefore = pool.bytesInUse;
    pool.peakBytes = inUseBefore;
    for (let i = 0; i < STEPS; i++) {
      log(`memory: step ${i + 1}`);
      await failOnGpuErrors(rt.device, () => {
        trainer.recordGradients(batch);
        trainer.recordUpdate(BENCH_HYPER.lr);
        return rt.sync();
      });
    }
    const trainable = adapter.parameters().reduce((n, p) => n + p.value.numel, 0);
    return {
      persistentBytes,
      stepBytes: pool.allocatedBytes - start - persistentBytes,
      stepPeakInUseBytes: pool.peakBytes - inUseBefore,
      minimum: loraStepMinimum(config, spec, model.parameterCount, trainable, B, S),
    };
  } finally {
    trainer.destroy();
    releaseBatch(rt, batch);
    adapter.destroy(rt);
    model.destroy();
  }
}
