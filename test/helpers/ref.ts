/** Plain CPU references and comparison helpers shared by the kernel tests. */

import { seededRandom } from '../../src/adapters/init';

/** Deterministic pseudo-random numbers (the engine's mulberry32) so failures reproduce. */
export const rng = seededRandom;

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** Max-norm relative error: max|a-b| / max(max|b|, floor). */
export function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-12): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    ref = Math.max(ref, Math.abs(expected[i]!));
  }
  return diff / Math.max(ref, floor);
}

/** Reference C = op(A) op(B) in float64. */
export function matmulRef(a: Float32Array, b: Float32Array, M: number, N: number, K: number, transA = false, transB = false): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const av = transA ? a[k * M + m]! : a[m * K + k]!;
        const bv = transB ? b[n * K + k]! : b[k * N + n]!;
        s += av * bv;
      }
      c[m * N + n] = s;
    }
  }
  return c;
}

/**
 * Central finite difference of a scalar function f(x) with respect to every element of x, in
 * float64. Backward kernels are checked against this.
 */
export function finiteDiff(x: Float64Array, f: (x: Float64Array) => number, h = 1e-5): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i]!;
    x[i] = keep + h;
    const up = f(x);
    x[i] = keep - h;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** Σ w·y: the scalar whose gradient w.r.t. y is w, used to probe backward kernels. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
