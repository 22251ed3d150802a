import { describe, expect, it } from 'vitest';
import { rope, ropeInverseFrequencies, ropeTables } from '../../src/kernels/rope';
import { checked, useGpu } from '../helpers/gpu';
import { dot, finiteDiff, randn, relErr } from '../helpers/ref';
import { ropeRef, toF64 } from '../helpers/ref-ops';

const gpu = useGpu();

interface Case { T: number; S: number; heads: number; D: number; ld: number; theta: number }

const cases: Case[] = [
  { T: 1, S: 1, heads: 1, D: 2, ld: 2, theta: 10000 },
  { T: 5, S: 5, heads: 3, D: 2, ld: 6, theta: 10000 },
  // Two sequences of 7 (pos = t mod S), row stride wider than heads·D (rope on a slice).
  { T: 14, S: 7, heads: 2, D: 6, ld: 17, theta: 10000 },
  { T: 70, S: 35, heads: 3, D: 10, ld: 30, theta: 500000 },
  { T: 9, S: 9, heads: 1, D: 128, ld: 131, theta: 10000 },
];

describe('ropeTables', () => {
  it('holds cos/sin of pos·θ^(−2i/D)', () => {
    const { cos, sin } = ropeTables(11, ropeInverseFrequencies(6, 10000));
    expect(cos.length).toBe(11 * 3);
    for (const [p, i] of [[0, 0], [1, 0], [1, 1], [10, 2], [7, 1]]) {
      const a = p * Math.pow(10000, -(2 * i) / 6);
      expect(cos[p * 3 + i]).toBeCloseTo(Math.cos(a), 6);
      expect(sin[p * 3 + i]).toBeCloseTo(Math.sin(a), 6);
    }
  });
});

describe('rope', () => {
  for (const c of cases) {
    const name = `T=${c.T} S=${c.S} heads=${c.heads} D=${c.D} ld=${c.ld} θ=${c.theta}`;
    it(`forward, inverse and round trip ${name}`, async () => {
      const rt = gpu();
      const { T, S, heads, D, ld, theta } = c;
      const x = randn(T * ld, T + D + ld);
      const w = randn(T * ld, T + D + ld + 1);
      const tables = ropeTables(S, ropeInverseFrequencies(D, theta));
      const tcos = rt.tensor([S, D / 2], 'cos', tables.cos);
      const tsin = rt.tensor([S, D / 2], 'sin', tables.sin);
      const tx = rt.tensor([T, ld], 'x', x);
      const tw = rt.tensor([T, ld], 'w', w);
      const args = { cos: tcos, sin: tsin, T, S, heads, headDim: D, ld: ld === heads * D ? undefined : ld };
      await checked(rt, () => {
        rope(rt, { ...args, x: tx });
        rope(rt, { ...args, x: tw, inverse: true });
      });
      const fwd = await rt.read(tx);
      // Columns past heads·D are untouched (compared exactly by the reference, which copies them).
      expect(relErr(fwd, ropeRef(x, T, S, heads, D, ld, theta))).toBeLessThan(1e-5);
      expect(relErr(await rt.read(tw), ropeRef(w, T, S, heads, D, ld, theta, true))).toBeLessThan(1e-5);
      await checked(rt, () => rope(rt, { ...args, x: tx, inverse: true }));
      expect(relErr(await rt.read(tx), x)).toBeLessThan(1e-5);
      rt.release(tcos, tsin, tx, tw);
    });
  }

  it('the inverse rotation is the backward of the forward (finite differences)', () => {
    const [T, S, heads, D, ld, theta] = [6, 3, 2, 4, 11, 100];
    const x = toF64(randn(T * ld, 1));
    const w = randn(T * ld, 2);
    const fd = finiteDiff(x, (xx) => dot(w, ropeRef(xx, T, S, heads, D, ld, theta)));
    expect(relErr(ropeRef(w, T, S, heads, D, ld, theta, true), fd)).toBeLessThan(1e-6);
    // …and the forward is not its own backward (the test can tell them apart).
    expect(relErr(ropeRef(w, T, S, heads, D, ld, theta), fd)).toBeGreaterThan(1e-2);
  });

  it('positions restart every S rows', async () => {
    const rt = gpu();
    const [S, heads, D] = [4, 1, 4];
    const T = 3 * S;
    const row = randn(heads * D, 3);
    const x = new Float32Array(T * heads * D);
    for (let t = 0; t < T; t++) x.set(row, t * heads * D);
    const tables = ropeTables(S, ropeInverseFrequencies(D, 10000));
    const tcos = rt.tensor([S, D / 2], 'cos', tables.cos);
    const tsin = rt.tensor([S, D / 2], 'sin', tables.sin);
    const tx = rt.tensor([T, heads * D], 'x', x);
    await checked(rt, () => rope(rt, { x: tx, cos: tcos, sin: tsin, T, S, heads, headDim: D }));
    const y = await rt.read(tx);
    for (let t = S; t < T; t++) {
      expect(Array.from(y.subarray(t * D, t * D + D))).toEqual(Array.from(y.subarray((t % S) * D, (t % S) * D + D)));
    }
    // Position 0 is the identity; position 1 is not.
    expect(Array.from(y.subarray(0, D))).toEqual(Array.from(row));
    expect(relErr(y.subarray(D, 2 * D), row)).toBeGreaterThan(1e-3);
    rt.release(tcos, tsin, tx);
  });
});
