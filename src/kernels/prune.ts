import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { elementGroups } from './common';

const pruneKernel = defineKernel({
  name: 'prune',
  shaders: ['common_grid.wgsl', 'common_hash.wgsl', 'prune.wgsl'],
  entryPoint: 'main',
  bindings: ['storage'],
  uniforms: [
    ['n', 'u32'],
    ['ratio', 'f32'],
    ['seed', 'u32'],
    ['threshold', 'f32'],
  ],
});

/** Zeroes each element with probability `ratio`, in place. */
export function pruneRandom(rt: GpuRuntime, x: Tensor, ratio: number, seed: number): void {
  rt.dispatch(pruneKernel, {
    bind: [x],
    uniforms: { n: x.numel, ratio, seed: seed >>> 0, threshold: 0 },
    overrides: { RANDOM: true },
    workgroups: elementGroups(x.numel),
  });
}

/** Zeroes every element with |x| < threshold, in place. */
export function pruneBelow(rt: GpuRuntime, x: Tensor, threshold: number): void {
  rt.dispatch(pruneKernel, {
    bind: [x],
    uniforms: { n: x.numel, ratio: 0, seed: 0, threshold },
    overrides: { RANDOM: false },
    workgroups: elementGroups(x.numel),
  });
}

/** The magnitude below which a `ratio` fraction of |values| lies (the pruning threshold). */
export function magnitudeThreshold(values: Float32Array, ratio: number): number {
  if (ratio <= 0 || values.length === 0) return 0;
  const mags = Float32Array.from(values, Math.abs).sort();
  const k = Math.min(values.length, Math.round(ratio * values.length));
  // Strictly above the k-th smallest, so exactly the k smallest (ties aside) fall below it.
  return k === 0 ? 0 : k >= values.length ? Infinity : (mags[k - 1]! + mags[k]!) / 2;
}
