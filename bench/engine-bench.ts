/**
 * Timings of our engine that the Node bench and the browser bench both take: one matmul, the
 * frozen model's forward + backward, and an adapter's full training step.
 */
import { createAdapter } from '../src/adapters/load';
import type { Adapter } from '../src/adapters/types';
import type { AdapterMethod } from '../src/formats/peft';
import type { GpuRuntime } from '../src/gpu/runtime';
import { matmul, type MatmulArgs } from '../src/kernels/matmul';
import type { Transformer } from '../src/model/transformer';
import type { DeviceBatch } from '../src/train/device-batch';
import { recordLoss } from '../src/train/step';
import { Trainer } from '../src/train/trainer';
import { benchAdapterSpec, BENCH_HYPER, checkConstantProduct, MATMUL_FILL, type MatmulCase, matmulFlops, medianMs } from './common';

export interface MatmulTiming {
  /** Force the scalar-load kernel (the default picks vec4 loads when the shapes allow). */
  readonly scalar?: boolean;
  /** Read the product back (and check it) as part of each timed run, instead of only waiting for the GPU. */
  readonly readBack?: boolean;
  /** Force a kernel (the default is the runtime's choice for the adapter). */
  readonly tile?: MatmulArgs['tile'];
}

/** GFLOP/s of our matmul at one shape, median of `repeats`. */
export async function ourMatmulGflops(rt: GpuRuntime, c: MatmulCase, repeats: number, timing: MatmulTiming = {}): Promise<number> {
  const a = rt.tensor([c.M * c.K], 'a', new Float32Array(c.M * c.K).fill(MATMUL_FILL.a));
  const b = rt.tensor([c.K * c.N], 'b', new Float32Array(c.K * c.N).fill(MATMUL_FILL.b));
  const out = rt.tensor([c.M * c.N], 'c');
  const args = { a, b, c: out, M: c.M, N: c.N, K: c.K, transA: c.transA, transB: c.transB, scalar: timing.scalar, tile: timing.tile };
  const sync = timing.readBack ? async () => checkConstantProduct(await rt.read(out), c) : () => rt.sync();
  const ms = await medianMs(() => matmul(rt, args), sync, repeats);
  rt.release(a, b, out);
  return matmulFlops(c) / (ms * 1e6);
}

/** Median ms of the frozen model's forward + backward (no adapter, no optimizer). */
export async function frozenStepMs(rt: GpuRuntime, model: Transformer, batch: DeviceBatch, repeats: number): Promise<number> {
  const lossOut = rt.tensor([1], 'loss');
  const step = { training: true, seed: 0 };
  const ms = await medianMs(() => recordLoss(rt, model, null, batch, step, { withGrad: true, lossOut }), () => rt.sync(), repeats);
  rt.release(lossOut);
  return ms;
}

/** Median ms of a full training step (forward, backward, clipping, AdamW) of a given adapter. */
export async function trainerStepMs(
  rt: GpuRuntime, model: Transformer, adapter: Adapter, batch: DeviceBatch, repeats: number,
): Promise<number> {
  const trainer = new Trainer(rt, model, adapter, BENCH_HYPER);
  const ms = await medianMs(() => {
    trainer.recordGradients(batch);
    trainer.recordUpdate(BENCH_HYPER.lr);
  }, () => rt.sync(), repeats);
  trainer.destroy();
  return ms;
}

/** Median ms of a training step of a freshly initialised adapter of `method` on q, k, v, o. */
export async function adapterStepMs(
  rt: GpuRuntime, model: Transformer, method: AdapterMethod, batch: DeviceBatch, repeats: number, rank = 8,
): Promise<number> {
  const adapter = await createAdapter(rt, model, benchAdapterSpec(method, rank), 1);
  const ms = await trainerStepMs(rt, model, adapter, batch, repeats);
  adapter.destroy(rt);
  return ms;
}
