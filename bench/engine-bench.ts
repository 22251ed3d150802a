/**
 * Timings of our engine that the Node bench and the browser bench both take: one matmul, the
 * frozen model's forward + backward, and an adapter's full training step.
 */
import { type AdapterMethod, METHOD_NAMES } from '../src/adapters';
import { createAdapter } from '../src/adapters/load';
import type { Adapter } from '../src/adapters/types';
import type { GpuRuntime } from '../src/gpu/runtime';
import { matmul, type MatmulArgs } from '../src/kernels/matmul';
import type { Transformer } from '../src/model/transformer';
import type { DeviceBatch } from '../src/train/device-batch';
import { recordLoss } from '../src/train/step';
import { Trainer } from '../src/train/trainer';
import { benchAdapterSpec, BENCH_HYPER, checkConstantProduct, MATMUL_FILL, type MatmulCase, matmulFlops, median, medianMs } from './common';

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

/** Median ms of a full training step (forward, backward, clipping, AdamW) of a given adapter. */
export async function trainerStepMs(
  rt: GpuRuntime,
  model: Transformer,
  adapter: Adapter,
  batch: DeviceBatch,
  repeats: number,
): Promise<number> {
  const trainer = new Trainer(rt, model, adapter, BENCH_HYPER);
  const ms = await medianMs(
    () => recordTrainerStep(trainer, batch),
    () => rt.sync(),
    repeats,
  );
  trainer.destroy();
  return ms;
}

/** Median ms of the frozen forward + backward and of each registered method's step. */
export type AdapterStepTimes = { readonly frozen: number } & Readonly<Record<AdapterMethod, number>>;

/**
 * Median ms of the frozen forward + backward and of each adapter's full step, taken in rounds:
 * each round times every one of the four once, in a rotating order, so that a slow spell of a
 * shared CPU (SwiftShader) lands on all four instead of skewing one ratio.
 */
export async function adapterStepTimes(
  rt: GpuRuntime,
  model: Transformer,
  batch: DeviceBatch,
  rounds: number,
  rank = 8,
): Promise<AdapterStepTimes> {
  const lossOut = rt.tensor([1], 'loss');
  const step = { training: true, seed: 0 };
  const adapters = await Promise.all(METHOD_NAMES.map((m) => createAdapter(rt, model, benchAdapterSpec(m, rank), 1)));
  const trainers = adapters.map((a) => new Trainer(rt, model, a, BENCH_HYPER));
  const runs: Record<string, () => void> = {
    frozen: () => recordLoss(rt, model, null, batch, step, { withGrad: true, lossOut }),
    ...Object.fromEntries(METHOD_NAMES.map((m, i) => [m, () => recordTrainerStep(trainers[i]!, batch)])),
  };
  const names = Object.keys(runs);
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  try {
    for (const name of names) {
      runs[name]!();
      await rt.sync();
    }
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(round + i) % names.length];
        const t0 = performance.now();
        runs[name!]!();
        await rt.sync();
        times[name!]!.push(performance.now() - t0);
      }
    }
    return Object.fromEntries(names.map((n) => [n, median(times[n]!)])) as AdapterStepTimes;
  } finally {
    for (const t of trainers) t.destroy();
    for (const a of adapters) a.destroy(rt);
    rt.release(lossOut);
  }
}

/** One full training step, recorded: forward, backward, clipping, AdamW. */
function recordTrainerStep(trainer: Trainer, batch: DeviceBatch): void {
  trainer.recordGradients(batch);
  trainer.recordUpdate(BENCH_HYPER.lr);
}
