import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { rowGroups } from './common';

const crossEntropyKernel = defineKernel({
  name: 'cross-entropy',
  shaders: ['common_reduce.wgsl', 'cross_entropy.wgsl'],
  entryPoint: 'main',
  bindings: ['storage', 'read', 'storage'],
  uniforms: [
    ['T', 'u32'],
    ['V', 'u32'],
    ['inv_count', 'f32'],
  ],
});
const reduceSumKernel = defineKernel({
  name: 'reduce-sum',
  shaders: ['reduce_sum.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'storage'],
  uniforms: [
    ['n', 'u32'],
    ['scale', 'f32'],
    ['slot', 'u32'],
  ],
});

export interface CrossEntropyArgs {
  /** [T, V]; overwritten by d loss / d logits when writeGrad is set. */
  readonly logits: Tensor;
  /** [T] i32 targets, −100 = ignored. */
  readonly targets: Tensor;
  /** [T] per-row losses (0 for ignored rows). */
  readonly losses: Tensor;
  readonly T: number;
  readonly V: number;
  /** 1 / number of counted targets (the loss is their mean). */
  readonly invCount: number;
  readonly writeGrad: boolean;
}

export function crossEntropy(rt: GpuRuntime, a: CrossEntropyArgs): void {
  rt.dispatch(crossEntropyKernel, {
    bind: [a.logits, a.targets, a.losses],
    uniforms: { T: a.T, V: a.V, inv_count: a.invCount },
    overrides: { WRITE_GRAD: a.writeGrad },
    workgroups: rowGroups(a.T),
  });
}

/** out[slot] = scale · Σ x[0..n) */
export function reduceSum(rt: GpuRuntime, x: Tensor, out: Tensor, n: number, scale = 1, slot = 0): void {
  rt.dispatch(reduceSumKernel, { bind: [x, out], uniforms: { n, scale, slot }, workgroups: [1] });
}
