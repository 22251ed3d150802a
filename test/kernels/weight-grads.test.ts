import { describe, expect, it } from 'vitest';
import { columnDot } from '../../src/kernels/adapter-ops';
import { layernormForward, rmsnormForward } from '../../src/kernels/norms';
import { embeddingForward } from '../../src/kernels/embedding';
import { embeddingBackward, groupRowsById, normWeightGrad, uploadRowGroups } from '../../src/kernels/weight-grads';
import { checked, useGpu } from '../helpers/gpu';
import { dot, finiteDiff, randn, relErr } from '../helpers/ref';
import { embeddingRef, layernormFwdRef, rmsnormFwdRef, toF64 } from '../helpers/ref-ops';

const gpu = useGpu();
const EPS = 1e-5;

/** Analytic d(Σ dy·norm(x))/dw (and /db) in float64: the references for the kernel. */
function normParamGradRef(kind: 'rmsnorm' | 'layernorm', x: Float32Array, dy: Float32Array, T: number, C: number) {
  const dw = new Float64Array(C);
  const db = new Float64Array(C);
  for (let t = 0; t < T; t++) {
    const row = Array.from(x.subarray(t * C, (t + 1) * C));
    const mean = kind === 'layernorm' ? row.reduce((a, b) => a + b, 0) / C : 0;
    const ms = row.reduce((a, v) => a + (v - mean) ** 2, 0) / C;
    const rstd = 1 / Math.sqrt(ms + EPS);
    for (let c = 0; c < C; c++) {
      dw[c]! += dy[t * C + c]! * (row[c]! - mean) * rstd;
      db[c]! += dy[t * C + c]!;
    }
  }
  return { dw, db };
}

describe('normWeightGrad', () => {
  for (const kind of ['rmsnorm', 'layernorm'] as const) {
    for (const [T, C] of [
      [1, 1],
      [3, 7],
      [70, 65],
      [5, 130],
    ] as const) {
      it(`${kind} T=${T} C=${C}: against the float64 reference, which matches finite differences`, async () => {
        const rt = gpu();
        const x = randn(T * C, T * 13 + C);
        const dy = randn(T * C, T + C * 7);
        const w = randn(C, 3);
        const b = randn(C, 4);
        const ref = normParamGradRef(kind, x, dy, T, C);
        // The reference is the derivative of L(w, b) = Σ dy · norm(x; w, b).
        const loss = (wv: Float64Array, bv: Float64Array) => {
          const y = kind === 'rmsnorm' ? rmsnormFwdRef(x, wv, T, C, EPS).y : layernormFwdRef(x, wv, bv, T, C, EPS).y;
          return dot(y, dy);
        };
        expect(
          relErr(
            finiteDiff(toF64(w), (wv) => loss(wv, toF64(b))),
            ref.dw,
          ),
        ).toBeLessThan(1e-6);
        if (kind === 'layernorm')
          expect(
            relErr(
              finiteDiff(toF64(b), (bv) => loss(toF64(w), bv)),
              ref.db,
            ),
          ).toBeLessThan(1e-6);

        const tx = rt.tensor([T, C], 'x', x);
        const tdy = rt.tensor([T, C], 'dy', dy);
        const tw = rt.tensor([C], 'w', w);
        const tb = rt.tensor([C], 'b', b);
        const ty = rt.tensor([T, C], 'y');
        const stats = rt.tensor([T, 2], 'stats');
        const start = randn(C, 99); // the kernel accumulates into what the gradient holds
        const dw = rt.tensor([C], 'dw', start);
        const db = rt.tensor([C], 'db', start);
        await checked(rt, () => {
          if (kind === 'rmsnorm') rmsnormForward(rt, tx, tw, ty, stats, T, C, EPS);
          else layernormForward(rt, tx, tw, tb, ty, stats, T, C, EPS);
          normWeightGrad(rt, kind, tx, stats, tdy, dw, kind === 'layernorm' ? db : null, T, C);
        });
        const plusStart = (r: Float64Array) => r.map((v, i) => v + start[i]!);
        expect(relErr(await rt.read(dw), plusStart(ref.dw))).toBeLessThan(1e-5);
        expect(relErr(await rt.read(db), kind === 'layernorm' ? plusStart(ref.db) : toF64(start))).toBeLessThan(1e-5);
        rt.release(tx, tdy, tw, tb, ty, stats, dw, db);
      });
    }
  }
});

describe('normWeightGrad of a per-head q/k norm (Qwen3, Gemma 3): rows = T·heads, one weight [D]', () => {
  // One token one head; Qwen3's D = 128 with 8 rows; Gemma's D = 256; T·heads = 65 rows (not a
  // multiple of the 4 row lanes) of a small head.
  for (const [T, heads, D] of [
    [1, 1, 16],
    [2, 4, 128],
    [3, 2, 256],
    [13, 5, 16],
  ] as const) {
    for (const offset of [0, 1]) {
      it(`T=${T} heads=${heads} D=${D} (rows ${T * heads}) offset ${offset}`, async () => {
        const rt = gpu();
        const rows = T * heads;
        const q = randn(rows * D, rows + D + 1);
        // Heads of different sizes: each row's own rstd matters.
        for (let i = 0; i < q.length; i++) q[i]! *= 1 + (Math.floor(i / D) % heads);
        const dy = randn(rows * D, rows + 2 * D);
        const w = randn(D, D + 2, offset ? 0.5 : 1.5);
        // dw = Σ over tokens and heads of dy · x̂ (the offset is a constant: it does not change
        // d/dw), written per head from the math…
        const ref = new Float64Array(D);
        for (let t = 0; t < T; t++) {
          for (let h = 0; h < heads; h++) {
            const at = (t * heads + h) * D;
            let ss = 0;
            for (let d = 0; d < D; d++) ss += q[at + d]! ** 2;
            const r = 1 / Math.sqrt(ss / D + EPS);
            for (let d = 0; d < D; d++) ref[d]! += dy[at + d]! * q[at + d]! * r;
          }
        }
        // …and checked by finite differences of L(w) = Σ dy · norm(q; w + offset).
        const fd = finiteDiff(toF64(w), (wv) => dot(dy, rmsnormFwdRef(q, wv, rows, D, EPS, offset).y));
        expect(relErr(ref, fd)).toBeLessThan(1e-6);

        const tq = rt.tensor([T, heads * D], 'q', q);
        const tw = rt.tensor([D], 'w', w);
        const ty = rt.tensor([T, heads * D], 'q_normed');
        const rstd = rt.tensor([rows], 'rstd');
        const tdy = rt.tensor([T, heads * D], 'dy', dy);
        const start = randn(D, 98);
        const dw = rt.tensor([D], 'dw', start);
        await checked(rt, () => {
          rmsnormForward(rt, tq, tw, ty, rstd, rows, D, EPS, offset);
          normWeightGrad(rt, 'rmsnorm', tq, rstd, tdy, dw, null, rows, D);
        });
        expect(
          relErr(
            await rt.read(dw),
            ref.map((v, i) => v + start[i]!),
          ),
        ).toBeLessThan(1e-5);
        rt.release(tq, tw, ty, rstd, tdy, dw);
      });
    }
  }
});

describe('embeddingBackward (scatter-add without atomics)', () => {
  it('groups rows by id', () => {
    const g = groupRowsById([5, 2, 5, 0, 2, 5]);
    expect([...g.uniqueIds]).toEqual([0, 2, 5]);
    expect([...g.offsets]).toEqual([0, 1, 3, 6]);
    expect([...g.rows]).toEqual([3, 1, 4, 0, 2, 5]);
  });

  for (const [T, C, V] of [
    [1, 1, 3],
    [12, 32, 67],
    [70, 5, 4],
    [300, 3, 300],
  ] as const) {
    it(`T=${T} C=${C} V=${V}, repeated ids: the transpose of the gather, checked by finite differences`, async () => {
      const rt = gpu();
      const ids = Array.from({ length: T }, (_, t) => (t * 7 + (t % 3)) % V);
      const dx = randn(T * C, T + C);
      const table = randn(V * C, 11);
      // d(Σ dx · gather(table))/d table, by finite differences of the float64 gather.
      const fd = finiteDiff(toF64(table), (tv) => dot(embeddingRef(ids, tv, T, C, T), dx));
      const start = randn(V * C, 5);
      const tdx = rt.tensor([T, C], 'dx', dx);
      const dtable = rt.tensor([V, C], 'dtable', start);
      const groups = uploadRowGroups(rt, ids, 'ids');
      await checked(rt, () => embeddingBackward(rt, tdx, groups, dtable, C));
      expect(
        relErr(
          await rt.read(dtable),
          fd.map((v, i) => v + start[i]!),
        ),
      ).toBeLessThan(1e-5);
      rt.release(tdx, dtable, groups.uniqueIds, groups.offsets, groups.rows);
    });
  }
});

describe('embeddingBackward with an embedding scale (Gemma: √hidden)', () => {
  const cases = [
    [1, 1, 3, Math.sqrt(640)],
    [12, 32, 67, Math.sqrt(640)],
    [300, 3, 300, 0.37],
    [70, 5, 4, -2.5],
  ] as const;
  for (const [T, C, V, scale] of cases) {
    it(`T=${T} C=${C} V=${V} scale=${scale.toPrecision(5)}: d(Σ dy·out)/d table by finite differences`, async () => {
      const rt = gpu();
      const ids = Array.from({ length: T }, (_, t) => (t * 5 + (t % 4)) % V);
      const dy = randn(T * C, T + C + 1);
      const table = randn(V * C, 12);
      // out = table[ids] · scale, so the gradient of Σ dy · out w.r.t. the table is scale · Σ dy.
      const fd = finiteDiff(toF64(table), (tv) => dot(embeddingRef(ids, tv, T, C, T, undefined, scale), dy));
      const start = randn(V * C, 6);
      const tdy = rt.tensor([T, C], 'dy', dy);
      const dtable = rt.tensor([V, C], 'dtable', start);
      const groups = uploadRowGroups(rt, ids, 'ids');
      await checked(rt, () => embeddingBackward(rt, tdy, groups, dtable, C, scale));
      const got = await rt.read(dtable);
      expect(
        relErr(
          got,
          fd.map((v, i) => v + start[i]!),
        ),
      ).toBeLessThan(1e-5);
      // Without the scale it would be off by (scale − 1) · Σ dy.
      const unscaled = finiteDiff(toF64(table), (tv) => dot(embeddingRef(ids, tv, T, C, T), dy));
      expect(
        relErr(
          got,
          unscaled.map((v, i) => v + start[i]!),
        ),
      ).toBeGreaterThan(0.1);
      rt.release(tdy, dtable, groups.uniqueIds, groups.offsets, groups.rows);
    });
  }

  it('is the transpose of the scaled forward: ⟨dy, E(table)⟩ = ⟨Eᵀ(dy), table⟩ on the GPU', async () => {
    const rt = gpu();
    const [T, C, S, V] = [40, 24, 40, 30];
    const scale = Math.sqrt(640);
    const ids = Uint32Array.from({ length: T }, (_, t) => (t * t + 3) % V);
    const table = randn(V * C, 21);
    const dy = randn(T * C, 22);
    const tids = rt.intTensor(ids, 'ids');
    const ttable = rt.tensor([V, C], 'table', table);
    const tout = rt.tensor([T, C], 'out');
    const tdy = rt.tensor([T, C], 'dy', dy);
    const dtable = rt.zeros([V, C], 'dtable');
    const groups = uploadRowGroups(rt, ids, 'ids');
    await checked(rt, () => {
      embeddingForward(rt, tids, ttable, tout, T, C, S, { scale });
      embeddingBackward(rt, tdy, groups, dtable, C, scale);
    });
    const lhs = dot(dy, await rt.read(tout));
    const rhs = dot(await rt.read(dtable), table);
    expect(Math.abs(lhs - rhs) / Math.abs(lhs)).toBeLessThan(1e-5);
    rt.release(tids, ttable, tout, tdy, dtable, groups.uniqueIds, groups.offsets, groups.rows);
  });
});

describe('columnDot without b (bias gradients: column sums)', () => {
  for (const [T, N] of [
    [1, 1],
    [5, 67],
    [70, 3],
  ] as const) {
    it(`T=${T} N=${N}`, async () => {
      const rt = gpu();
      const a = randn(T * N, T * N);
      const start = randn(N, 1);
      const ta = rt.tensor([T, N], 'a', a);
      const out = rt.tensor([N], 'out', start);
      await checked(rt, () => columnDot(rt, ta, null, out, T, N, { beta: 1 }));
      const ref = new Float64Array(N).map(
        (_, j) => start[j]! + Array.from({ length: T }, (_, t) => a[t * N + j]!).reduce((x, y) => x + y, 0),
      );
      expect(relErr(await rt.read(out), ref)).toBeLessThan(1e-5);
      rt.release(ta, out);
    });
  }
});
