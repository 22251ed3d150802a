import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { elementGroups, rowGroups } from './common';
import { matmul } from './matmul';

const scaleColumnsKernel = defineKernel({
  name: 'scale-columns',
  shaders: ['common_grid.wgsl', 'scale_columns.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage'],
  uniforms: [
    ['T', 'u32'],
    ['N', 'u32'],
    ['beta', 'f32'],
  ],
});
const columnDotKernel = defineKernel({
  name: 'column-dot',
  shaders: ['column_dot.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage'],
  uniforms: [
    ['T', 'u32'],
    ['N', 'u32'],
    ['beta', 'f32'],
  ],
});
const rowSumSquaresKernel = defineKernel({
  name: 'row-sum-squares',
  shaders: ['common_reduce.wgsl', 'row_sum_squares.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'storage'],
  uniforms: [
    ['out_features', 'u32'],
    ['in_features', 'u32'],
  ],
});

const doraNormKernel = defineKernel({
  name: 'dora-norm',
  shaders: ['common_grid.wgsl', 'dora_norm.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'read', 'read', 'storage', 'storage'],
  uniforms: [
    ['out_features', 'u32'],
    ['r', 'u32'],
    ['s', 'f32'],
  ],
});

/** out[t, j] = a[t, j] · v[j] (+ bias[j]) (+ beta · out[t, j]) */
export function scaleColumns(
  rt: GpuRuntime,
  a: Tensor,
  v: Tensor,
  out: Tensor,
  T: number,
  N: number,
  opts: { beta?: number; bias?: Tensor } = {},
): void {
  rt.dispatch(scaleColumnsKernel, {
    bind: [a, v, opts.bias ?? rt.unused, out],
    uniforms: { T, N, beta: opts.beta ?? 0 },
    overrides: { HAS_BIAS: opts.bias !== undefined },
    workgroups: elementGroups(T * N),
  });
}

/** out[j] = beta · out[j] + scale[j] · Σ_t a[t, j] b[t, j]   (Σ_t a[t, j] when b is null) */
export function columnDot(
  rt: GpuRuntime,
  a: Tensor,
  b: Tensor | null,
  out: Tensor,
  T: number,
  N: number,
  opts: { beta?: number; scale?: Tensor } = {},
): void {
  rt.dispatch(columnDotKernel, {
    bind: [a, b ?? rt.unused, opts.scale ?? rt.unused, out],
    uniforms: { T, N, beta: opts.beta ?? 0 },
    overrides: { HAS_SCALE: opts.scale !== undefined, HAS_B: b !== null },
    workgroups: [Math.ceil(N / 64)],
  });
}

/** Σ_j W[i, j]² per output row of a linear weight ([out, in], or [in, out] with fanInFanOut). */
export function rowSumSquares(
  rt: GpuRuntime,
  weight: Tensor,
  out: Tensor,
  outFeatures: number,
  inFeatures: number,
  fanInFanOut: boolean,
): void {
  rt.dispatch(rowSumSquaresKernel, {
    bind: [weight, out],
    uniforms: { out_features: outFeatures, in_features: inFeatures },
    overrides: { FAN_IN_FAN_OUT: fanInFanOut },
    workgroups: rowGroups(outFeatures),
  });
}

export interface DoraNormArgs {
  readonly weight: Tensor;
  /** ‖wᵢ‖² of the frozen weight (rowSumSquares), kept for the life of the adapter. */
  readonly weightRowSquares: Tensor;
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

/**
 * 1/‖W + sBA‖ and m/‖W + sBA‖ per output row from ‖wᵢ‖², W Aᵀ and A Aᵀ: an out×r and an r×r
 * product instead of an out×in matrix, and W is read only by the (narrow-tile) W Aᵀ.
 */
export function doraNorm(rt: GpuRuntime, a: DoraNormArgs): void {
  const { outFeatures: out, inFeatures: inF, rank: r } = a;
  const wAt = rt.tensor([out, r], 'dora.WAt');
  const aAt = rt.tensor([r, r], 'dora.AAt');
  // W Aᵀ: W is [out, in] (Linear) or [in, out] used transposed (Conv1D); A is [r, in].
  matmul(rt, { a: a.weight, b: a.loraA, c: wAt, M: out, N: r, K: inF, transA: a.fanInFanOut, transB: true });
  matmul(rt, { a: a.loraA, b: a.loraA, c: aAt, M: r, N: r, K: inF, transB: true });
  rt.dispatch(doraNormKernel, {
    bind: [a.weightRowSquares, wAt, aAt, a.loraB, a.magnitude, a.invNorm, a.scale],
    uniforms: { out_features: out, r, s: a.s },
    workgroups: elementGroups(out),
  });
  rt.release(wAt, aAt);
}
