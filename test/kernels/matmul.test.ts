import { describe, expect, it } from 'vitest';
import { matmul } from '../../src/kernels/matmul';
import { checked, useGpu } from '../helpers/gpu';
import { matmulRef, randn, relErr } from '../helpers/ref';

const gpu = useGpu();

// Awkward shapes: one row, rank 1, not multiples of the 64×64×16 tile, and odd sizes that
// force the scalar path.
const shapes: [number, number, number][] = [
  [1, 1, 1],
  [1, 67, 32],
  [12, 96, 32],
  [24, 4, 32],
  [24, 32, 1],
  [65, 63, 17],
  [130, 70, 100],
  [64, 64, 64],
  [7, 128, 13],
];

describe('matmul', () => {
  for (const [M, N, K] of shapes) {
    for (const [transA, transB] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ] as const) {
      // The square 64×64 tile, the narrow 64×16 tile, the narrow tile on the transposed problem
      // (taken without a bias when M < N: C is stored back transposed), and the barrier-free
      // direct kernel of CPU adapters with 4×4 and 16×16 blocks.
      for (const [scalar, tile, withBias] of [
        [false, 'square', true],
        [true, 'square', true],
        [false, 'narrow', true],
        [true, 'narrow', false],
        [false, 'narrow', false],
        [false, 'direct', true],
        [true, 'direct', true],
        [false, 'direct', false],
        [false, 'direct-wide', true],
        [true, 'direct-wide', false],
      ] as const) {
        it(`M=${M} N=${N} K=${K} transA=${transA} transB=${transB} ${tile}${scalar ? ' scalar' : ''}${withBias ? ' bias' : ''}`, async () => {
          const rt = gpu();
          const a = randn(M * K, M * 31 + K);
          const b = randn(N * K, N * 17 + K + 1);
          const c0 = randn(M * N, 5);
          const bias = randn(N, 9);
          const ta = rt.tensor([M * K], 'a', a);
          const tb = rt.tensor([N * K], 'b', b);
          const tc = rt.tensor([M * N], 'c', c0);
          const tbias = rt.tensor([N], 'bias', bias);
          await checked(rt, () =>
            matmul(rt, {
              a: ta,
              b: tb,
              c: tc,
              M,
              N,
              K,
              transA,
              transB,
              alpha: 0.5,
              beta: 1,
              bias: withBias ? tbias : undefined,
              scalar,
              tile,
            }),
          );
          const got = await rt.read(tc);
          const ref = matmulRef(a, b, M, N, K, transA, transB);
          for (let i = 0; i < M * N; i++) ref[i] = 0.5 * ref[i]! + c0[i]! + (withBias ? bias[i % N]! : 0);
          expect(relErr(got, ref)).toBeLessThan(1e-5);
          rt.release(ta, tb, tc, tbias);
        });
      }
    }
  }

  // The low-rank epilogue: C = alpha·op(A)op(B) + beta·C + bias + s·U·Q, at ranks 1, under one
  // chunk, exactly one chunk and over two chunks of 16, with Q stored either way.
  for (const [M, N, K, R] of [
    [1, 1, 1, 1],
    [5, 67, 13, 8],
    [70, 65, 33, 16],
    [130, 96, 20, 33],
    [64, 64, 64, 3],
  ] as const) {
    for (const [transQ, tile] of [
      [false, 'square'],
      [true, 'square'],
      [false, 'direct'],
      [true, 'direct'],
      [false, 'direct-wide'],
      [true, 'direct-wide'],
    ] as const) {
      it(`low-rank epilogue M=${M} N=${N} K=${K} R=${R} transQ=${transQ} ${tile}`, async () => {
        const rt = gpu();
        const a = randn(M * K, 11),
          b = randn(N * K, 12),
          u = randn(M * R, 13),
          q = randn(R * N, 14);
        const c0 = randn(M * N, 15),
          bias = randn(N, 16);
        const [ta, tb, tu, tq, tc, tbias] = [a, b, u, q, c0, bias].map((d, i) => rt.tensor([d.length], `t${i}`, d));
        await checked(rt, () =>
          matmul(rt, {
            a: ta!,
            b: tb!,
            c: tc!,
            M,
            N,
            K,
            transB: true,
            alpha: 0.5,
            beta: 1,
            bias: tbias!,
            tile,
            lowRank: { u: tu!, q: tq!, rank: R, scale: 1.5, transQ },
          }),
        );
        const got = await rt.read(tc!);
        const base = matmulRef(a, b, M, N, K, false, true);
        const low = matmulRef(u, q, M, N, R, false, transQ);
        const ref = base.map((v, i) => 0.5 * v + c0[i]! + bias[i % N]! + 1.5 * low[i]!);
        expect(relErr(got, ref)).toBeLessThan(1e-5);
        rt.release(ta, tb, tu, tq, tc, tbias);
      });
    }
  }

  // With and without the low-rank epilogue (rank 6: a whole chunk of 4 and a partial one).
  for (const lowRank of [undefined, { transQ: false }, { transQ: true }] as const) {
    it(`the direct kernel gives the same bits with 4×4 and 16×16 blocks${lowRank ? `, low-rank transQ=${lowRank.transQ}` : ''}`, async () => {
      const rt = gpu();
      const [M, N, K, R] = [70, 45, 37, 6];
      const ta = rt.tensor([M * K], 'a', randn(M * K, 21));
      const tb = rt.tensor([N * K], 'b', randn(N * K, 22));
      const tu = rt.tensor([M * R], 'u', randn(M * R, 23));
      const tq = rt.tensor([R * N], 'q', randn(R * N, 24));
      const results: Float32Array[] = [];
      for (const tile of ['direct', 'direct-wide'] as const) {
        const tc = rt.tensor([M * N], 'c');
        await checked(rt, () =>
          matmul(rt, {
            a: ta,
            b: tb,
            c: tc,
            M,
            N,
            K,
            transB: true,
            tile,
            scalar: true,
            alpha: 0.7,
            lowRank: lowRank && { u: tu, q: tq, rank: R, scale: 1.3, transQ: lowRank.transQ },
          }),
        );
        results.push(await rt.read(tc));
        rt.release(tc);
      }
      expect(results[1]).toEqual(results[0]);
      rt.release(ta, tb, tu, tq);
    });
  }

  it('picks the narrow tile on the transposed problem with leading dimensions and offsets (dA of a VeRA slice)', async () => {
    const rt = gpu();
    // dA[r=3, in=6] (a slice of a [3, 10] buffer at offset 2) += duᵀ[3, T=70] · x[70, 6]
    const du = randn(70 * 3, 3);
    const x = randn(70 * 6, 4);
    const c0 = randn(3 * 10, 5);
    const tdu = rt.tensor([70, 3], 'du', du);
    const tx = rt.tensor([70, 6], 'x', x);
    const tc = rt.tensor([3, 10], 'dA', c0);
    await checked(rt, () => matmul(rt, { a: tdu, b: tx, c: tc, M: 3, N: 6, K: 70, transA: true, beta: 1, ldc: 10, cOffset: 2 }));
    const got = await rt.read(tc);
    const prod = matmulRef(du, x, 3, 6, 70, true, false);
    const ref = Float32Array.from(c0);
    for (let r = 0; r < 3; r++) for (let i = 0; i < 6; i++) ref[r * 10 + 2 + i]! += prod[r * 6 + i]!;
    expect(relErr(got, ref)).toBeLessThan(1e-5);
    rt.release(tdu, tx, tc);
  });

  it('uses leading dimensions and offsets to multiply a slice (VeRA shares one A, B)', async () => {
    const rt = gpu();
    // A_full is [r=3, maxIn=10]; use its first in=6 columns: y[T=5, 3] = x[5,6] A[:, :6]ᵀ
    const aFull = randn(3 * 10, 1);
    const x = randn(5 * 6, 2);
    const tx = rt.tensor([5, 6], 'x', x);
    const ta = rt.tensor([3, 10], 'A', aFull);
    const ty = rt.tensor([5, 3], 'y');
    await checked(rt, () => matmul(rt, { a: tx, b: ta, c: ty, M: 5, N: 3, K: 6, transB: true, ldb: 10 }));
    const got = await rt.read(ty);
    const slice = new Float32Array(18);
    for (let r = 0; r < 3; r++) for (let i = 0; i < 6; i++) slice[r * 6 + i] = aFull[r * 10 + i]!;
    expect(relErr(got, matmulRef(x, slice, 5, 3, 6, false, true))).toBeLessThan(1e-5);
    rt.release(tx, ta, ty);
  });
});
