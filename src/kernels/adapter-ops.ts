import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { elementGroups, rowGroups } from './common';

const scaleColumnsKernel = defineKernel({
  name: 'scale-columns', shaders: ['common_grid.wgsl', 'scale_columns.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage'], uniforms: [['T', 'u32'], ['N', 'u32'], ['beta', 'f32']],
});
const columnDotKernel = defineKernel({
  name: 'column-dot', shaders: ['column_dot.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage'], uniforms: [['T', 'u32'], ['N', 'u32'], ['beta', 'f32']],
});
const doraNormKernel = defineKernel({
  name: 'dora-norm', shaders: ['common_reduce.wgsl', 'dora_norm.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'read', 'storage', 'storage'],
  uniforms: [['out_features', 'u32'], ['in_features', 'u32'], ['r', 'u32'], ['s', 'f32']],
});

/** out[t, j] = a[t, j] · v[j] (+ bias[j]) (+ beta · out[t, j]) */
export function scaleColumns(
  rt: GpuRuntime, a: Tensor, v: Tensor, out: Tensor, T: number, N: number, opts: { beta?: number; bias?: Tensor } = {},
): void {
  rt.dispatch(scaleColumnsKernel, {
    bind: [a, v, opts.bias ?? rt.unused, out], uniforms: { T, N, beta: opts.beta ?? 0 },
    overrides: { HAS_BIAS: opts.bias !== undefined }, workgroups: elementGroups(T * N),
  });
}

/** out[j] = beta · out[j] + scale[j] · Σ_t a[t, j] b[t, j]   (Σ_t a[t, j] when b is null) */
export function columnDot(
  rt: GpuRuntime, a: Tensor, b: Tensor | null, out: Tensor, T: number, N: number, opts: { beta?: number; scale?: Tensor } = {},
): void {
  rt.dispatch(columnDotKernel, {
    bind: [a, b ?? rt.unused, opts.scale ?? rt.unused, out], uniforms: { T, N, beta: opts.beta ?? 0 },
    overrides: { HAS_SCALE: opts.scale !== undefined, HAS_B: b !== null }, workgroups: [Math.ceil(N / 64)],
  });
}

export interface DoraNormArgs {
  readonly weight: Tensor;
  readonly loraA: Tensor;
  readonly loraB: Tensor;
  readonly magnitude: Tensor;
  /** Outputs: 1/‖W + sBA‖ and m/‖W + sBA‖ per output row. */
  readonly invNorm: Tensor;
  readonly scale: Tensor;
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly rank: number;
  readonly s: number;
  readonly fanInFanOut: boolean;
}

export function doraNorm(rt: GpuRuntime, a: DoraNormArgs): void {
  rt.dispatch(doraNormKernel, {
    bind: [a.weight, a.loraA, a.loraB, a.magnitude, a.invNorm, a.scale],
    uniforms: { out_features: a.outFeatures, in_features: a.inFeatures, r: a.rank, s: a.s },
    overrides: { FAN_IN_FAN_OUT: a.fanInFanOut }, workgroups: rowGroups(a.outFeatures),
  });
}
