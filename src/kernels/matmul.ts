import { defineKernel } from '../gpu/kernel';
import { grid, type GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';

const uniforms = [
  ['M', 'u32'],
  ['N', 'u32'],
  ['K', 'u32'],
  ['lda', 'u32'],
  ['ldb', 'u32'],
  ['ldc', 'u32'],
  ['a_offset', 'u32'],
  ['b_offset', 'u32'],
  ['c_offset', 'u32'],
  ['alpha', 'f32'],
  ['beta', 'f32'],
  ['R', 'u32'],
  ['ldu', 'u32'],
  ['ldq', 'u32'],
  ['q_offset', 'u32'],
  ['lowrank_scale', 'f32'],
] as const;

// a, b, c, bias, and the low-rank epilogue's U and Q (the unused buffer when absent).
const bindings = ['read', 'read', 'storage', 'read', 'read', 'read'] as const;

function matmulKernel(name: string, io: string, tile: string) {
  return defineKernel({ name, shaders: [io, 'matmul_common.wgsl', tile], entryPoint: 'main', bindings, uniforms });
}

export const matmulVec4 = matmulKernel('matmul-vec4', 'matmul_io_vec4.wgsl', 'matmul.wgsl');
export const matmulScalar = matmulKernel('matmul-scalar', 'matmul_io_scalar.wgsl', 'matmul.wgsl');
export const matmulNarrowVec4 = matmulKernel('matmul-narrow-vec4', 'matmul_io_vec4.wgsl', 'matmul_narrow.wgsl');
export const matmulNarrowScalar = matmulKernel('matmul-narrow-scalar', 'matmul_io_scalar.wgsl', 'matmul_narrow.wgsl');
export const matmulDirectVec4 = matmulKernel('matmul-direct-vec4', 'matmul_io_vec4.wgsl', 'matmul_direct.wgsl');
export const matmulDirectScalar = matmulKernel('matmul-direct-scalar', 'matmul_io_scalar.wgsl', 'matmul_direct.wgsl');

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
  /** Force the scalar-load variant (tests compare both; `rt.profile.loads` 'scalar' forces it for every call). */
  readonly scalar?: boolean;
  /** An adapter's low-rank path, added in the epilogue: C += scale · U Q. */
  readonly lowRank?: LowRankTerm;
  /**
   * Kernel choice: 'auto' (default) follows `rt.profile.matmul`: 'direct' is the barrier-free
   * direct kernel with 16×16 blocks where there are enough of them (see useWideBlocks), 4×4
   * otherwise; 'direct-wide' always 16×16; 'tiled' the narrow 64×16 tile for N ≤ 16 or M ≤ 16
   * and the square 64×64 one otherwise. Tests force each here ('direct' is the 4×4 block,
   * 'direct-wide' the 16×16).
   */
  readonly tile?: 'auto' | 'square' | 'narrow' | 'direct' | 'direct-wide';
}

/**
 * s · U Q with U [M, rank] row-major and Q [rank, N]: stored [rank, N] (`transQ` false, e.g. LoRA's
 * A in the input gradient) or [N, rank] (`transQ`, e.g. LoRA's B in the forward).
 */
export interface LowRankTerm {
  readonly u: Tensor;
  readonly q: Tensor;
  readonly rank: number;
  readonly scale: number;
  readonly transQ: boolean;
  readonly ldq?: number;
  readonly qOffset?: number;
}

const TILE_M = 64;
/** matmul_direct.wgsl: one 4×4 block of C per invocation, 64 invocations per workgroup. */
const DIRECT_BLOCK = 4;
const DIRECT_INVOCATIONS = 64;
/** matmul_direct.wgsl with WIDE: one 16×16 block per invocation. */
const WIDE_BLOCK = 16;
/**
 * The 16×16 block needs this many blocks (8 workgroups) or more: fewer would leave CPU threads
 * idle, as on the rank-wide products of an adapter, where the 4×4 block's sixteen times as many
 * invocations keep them busy.
 */
const WIDE_MIN_BLOCKS = 8 * DIRECT_INVOCATIONS;
const SQUARE_TILE_N = 64;
const NARROW_TILE_N = 16;

/** The problem as the shader sees it: operands, transposes and strides, possibly transposed as a whole. */
interface Problem {
  readonly a: Tensor;
  readonly b: Tensor;
  readonly M: number;
  readonly N: number;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly lda: number;
  readonly ldb: number;
  readonly aOffset: number;
  readonly bOffset: number;
  readonly transC: boolean;
}

function asGiven(p: MatmulArgs): Problem {
  const transA = p.transA ?? false;
  const transB = p.transB ?? false;
  return {
    a: p.a,
    b: p.b,
    M: p.M,
    N: p.N,
    transA,
    transB,
    lda: p.lda ?? (transA ? p.M : p.K),
    ldb: p.ldb ?? (transB ? p.K : p.N),
    aOffset: p.aOffset ?? 0,
    bOffset: p.bOffset ?? 0,
    transC: false,
  };
}

/** Cᵀ = op(B)ᵀ op(A)ᵀ: few rows become few columns, for the narrow tile; stored back transposed. */
function transposed(q: Problem): Problem {
  return {
    a: q.b,
    b: q.a,
    M: q.N,
    N: q.M,
    transA: !q.transB,
    transB: !q.transA,
    lda: q.ldb,
    ldb: q.lda,
    aOffset: q.bOffset,
    bOffset: q.aOffset,
    transC: true,
  };
}

function chooseTile(rt: GpuRuntime, p: MatmulArgs): 'square' | 'narrow-n' | 'narrow-m' | 'direct' | 'direct-wide' {
  const tile = p.tile ?? 'auto';
  if (tile === 'direct' || tile === 'direct-wide') return tile;
  if (tile === 'auto') {
    const strategy = rt.profile.matmul;
    if (strategy === 'direct-wide') return 'direct-wide';
    if (strategy === 'direct') return useWideBlocks(p.M, p.N) ? 'direct-wide' : 'direct';
  }
  if (tile === 'square' || p.lowRank) return 'square';
  // A bias is indexed by the output column, which the transposed problem would not see.
  const canSwap = p.bias === undefined;
  if (tile === 'narrow') return p.N <= p.M || !canSwap ? 'narrow-n' : 'narrow-m';
  if (p.N <= NARROW_TILE_N && p.N < p.M) return 'narrow-n';
  if (p.M <= NARROW_TILE_N && p.M < p.N && canSwap) return 'narrow-m';
  return 'square';
}

type Tile = ReturnType<typeof chooseTile>;

function useWideBlocks(M: number, N: number): boolean {
  return Math.ceil(M / WIDE_BLOCK) * Math.ceil(N / WIDE_BLOCK) >= WIDE_MIN_BLOCKS;
}

function kernelFor(tile: Tile, vec4: boolean) {
  if (tile === 'direct' || tile === 'direct-wide') return vec4 ? matmulDirectVec4 : matmulDirectScalar;
  if (tile === 'square') return vec4 ? matmulVec4 : matmulScalar;
  return vec4 ? matmulNarrowVec4 : matmulNarrowScalar;
}

/** The direct kernel deals 4×4 (or 16×16) blocks out 64 per workgroup, on the runtime's 2-D grid past 65535 workgroups. */
export function directWorkgroups(M: number, N: number, wide = false): [number, number] {
  const size = wide ? WIDE_BLOCK : DIRECT_BLOCK;
  const blocks = Math.ceil(M / size) * Math.ceil(N / size);
  return grid(Math.ceil(blocks / DIRECT_INVOCATIONS));
}

function workgroupsFor(tile: Tile, M: number, N: number): [number, number] {
  if (tile === 'direct' || tile === 'direct-wide') return directWorkgroups(M, N, tile === 'direct-wide');
  const tileN = tile === 'square' ? SQUARE_TILE_N : NARROW_TILE_N;
  return [Math.ceil(N / tileN), Math.ceil(M / TILE_M)];
}

/** C = alpha · op(A) op(B) + beta · C (+ bias), at any shape. */
export function matmul(rt: GpuRuntime, p: MatmulArgs): void {
  const tile = chooseTile(rt, p);
  const q = tile === 'narrow-m' ? transposed(asGiven(p)) : asGiven(p);
  // Vector loads need every 4-chunk of both operands to start on a 16-byte boundary.
  const aligned = q.lda % 4 === 0 && q.ldb % 4 === 0 && q.aOffset % 4 === 0 && q.bOffset % 4 === 0;
  const narrow = tile === 'narrow-n' || tile === 'narrow-m';
  const lr = p.lowRank;
  rt.dispatch(kernelFor(tile, aligned && !p.scalar && rt.profile.loads === 'vec4'), {
    bind: [q.a, q.b, p.c, p.bias ?? rt.unused, lr?.u ?? rt.unused, lr?.q ?? rt.unused],
    uniforms: {
      M: q.M,
      N: q.N,
      K: p.K,
      lda: q.lda,
      ldb: q.ldb,
      ldc: p.ldc ?? p.N,
      a_offset: q.aOffset,
      b_offset: q.bOffset,
      c_offset: p.cOffset ?? 0,
      alpha: p.alpha ?? 1,
      beta: p.beta ?? 0,
      R: lr?.rank ?? 0,
      ldu: lr?.rank ?? 0,
      ldq: lr ? (lr.ldq ?? (lr.transQ ? lr.rank : p.N)) : 0,
      q_offset: lr?.qOffset ?? 0,
      lowrank_scale: lr?.scale ?? 0,
    },
    overrides: {
      TRANS_A: q.transA,
      TRANS_B: q.transB,
      HAS_BIAS: p.bias !== undefined,
      ...(narrow ? { TRANS_C: q.transC } : { LOW_RANK: lr !== undefined, TRANS_Q: lr?.transQ ?? false }),
      ...(tile === 'direct' || tile === 'direct-wide' ? { WIDE: tile === 'direct-wide' } : {}),
    },
    workgroups: workgroupsFor(tile, q.M, q.N),
  });
}
