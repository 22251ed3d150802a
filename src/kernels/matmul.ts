import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';

const uniforms = [
  ['M', 'u32'], ['N', 'u32'], ['K', 'u32'],
  ['lda', 'u32'], ['ldb', 'u32'], ['ldc', 'u32'],
  ['a_offset', 'u32'], ['b_offset', 'u32'], ['c_offset', 'u32'],
  ['alpha', 'f32'], ['beta', 'f32'],
] as const;

const bindings = ['read', 'read', 'storage', 'read'] as const;

export const matmulVec4 = defineKernel({
  name: 'matmul-vec4', shaders: ['matmul_io_vec4.wgsl', 'matmul.wgsl'], entryPoint: 'main', bindings, uniforms,
});
export const matmulScalar = defineKernel({
  name: 'matmul-scalar', shaders: ['matmul_io_scalar.wgsl', 'matmul.wgsl'], entryPoint: 'main', bindings, uniforms,
});

export interface MatmulArgs {
  readonly a: Tensor;
  readonly b: Tensor;
  readonly c: Tensor;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  /** A is stored [K, M] and used transposed. */
  readonly transA?: boolean;
  /** B is stored [N, K] and used transposed (the `X Wᵀ` of a linear layer). */
  readonly transB?: boolean;
  readonly lda?: number;
  readonly ldb?: number;
  readonly ldc?: number;
  readonly aOffset?: number;
  readonly bOffset?: number;
  readonly cOffset?: number;
  readonly alpha?: number;
  /** 1 accumulates into C; 0 overwrites it (C is then never read). */
  readonly beta?: number;
  readonly bias?: Tensor;
  /** Force the scalar-load variant (tests compare both). */
  readonly scalar?: boolean;
}

const TILE = 64;

/** C = alpha · op(A) op(B) + beta · C (+ bias), at any shape. */
export function matmul(rt: GpuRuntime, p: MatmulArgs): void {
  const transA = p.transA ?? false;
  const transB = p.transB ?? false;
  const lda = p.lda ?? (transA ? p.M : p.K);
  const ldb = p.ldb ?? (transB ? p.K : p.N);
  const ldc = p.ldc ?? p.N;
  const aOffset = p.aOffset ?? 0;
  const bOffset = p.bOffset ?? 0;
  // Vector loads need every 4-chunk of both operands to start on a 16-byte boundary.
  const aligned = lda % 4 === 0 && ldb % 4 === 0 && aOffset % 4 === 0 && bOffset % 4 === 0;
  const kernel = aligned && !p.scalar ? matmulVec4 : matmulScalar;
  rt.dispatch(kernel, {
    bind: [p.a, p.b, p.c, p.bias ?? rt.unused],
    uniforms: {
      M: p.M, N: p.N, K: p.K, lda, ldb, ldc,
      a_offset: aOffset, b_offset: bOffset, c_offset: p.cOffset ?? 0,
      alpha: p.alpha ?? 1, beta: p.beta ?? 0,
    },
    overrides: { TRANS_A: transA, TRANS_B: transB, HAS_BIAS: p.bias !== undefined },
    workgroups: [Math.ceil(p.N / TILE), Math.ceil(p.M / TILE)],
  });
}
