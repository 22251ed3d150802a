import { describe, expect, it } from 'vitest';
import { rope, ropeInverseFrequencies, ropeTables } from '../../src/kernels/rope';
import { checked, useGpu } from '../helpers/gpu';
import { dot, finiteDiff, randn, relErr } from '../helpers/ref';
import { ropeFreqRef, ropeRef, toF64 } from '../helpers/ref-ops';

const gpu = useGpu();

interface Case {
  T: number;
  S: number;
  heads: number;
  D: number;
  ld: number;
  theta: number;
}

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
    for (const [p, i] of [
      [0, 0],
      [1, 0],
      [1, 1],
      [10, 2],
      [7, 1],
    ] as const) {
      const a = p * 10000 ** (-(2 * i) / 6);
      expect(cos[p * 3 + i]).toBeCloseTo(Math.cos(a), 6);
      expect(sin[p * 3 + i]).toBeCloseTo(Math.sin(a), 6);
    }
  });
});

/**
 * transformers' `_compute_llama3_parameters`, written again from its published formula in the
 * same vectorised form (where(…) over the whole array, the smoothed band computed from the
 * already-divided array as there), in float64:
 *   wavelen = 2π/f;  f' = wavelen > orig/low ? f/factor : f
 *   smooth = (orig/wavelen − low)/(high − low);  smoothed = (1 − smooth)·f'/factor + smooth·f'
 *   medium = !(wavelen < orig/high) && !(wavelen > orig/low);  result = medium ? smoothed : f'
 */
function llama3Reference(
  invFreq: number[],
  factor: number,
  low: number,
  high: number,
  orig: number,
): { freq: number[]; band: ('high' | 'medium' | 'low')[] } {
  const lowFreqWavelen = orig / low;
  const highFreqWavelen = orig / high;
  const wavelen = invFreq.map((f) => (2 * Math.PI) / f);
  const divided = invFreq.map((f, i) => (wavelen[i]! > lowFreqWavelen ? f / factor : f));
  const smooth = wavelen.map((w) => (orig / w - low) / (high - low));
  const smoothed = divided.map((f, i) => ((1 - smooth[i]!) * f) / factor + smooth[i]! * f);
  const medium = wavelen.map((w) => !(w < highFreqWavelen) && !(w > lowFreqWavelen));
  return {
    freq: divided.map((f, i) => (medium[i] ? smoothed[i]! : f)),
    band: wavelen.map((w, i) => (medium[i] ? 'medium' : w > lowFreqWavelen ? 'low' : 'high')),
  };
}

describe('ropeInverseFrequencies', () => {
  const plain = (D: number, theta: number) => Array.from({ length: D / 2 }, (_, i) => 1 / theta ** ((2 * i) / D));

  it('no scaling: θ^(−2i/D)', () => {
    for (const [D, theta] of [
      [2, 10000],
      [64, 500000],
      [128, 1e6],
      [6, 100],
    ] as const) {
      expect(relErr(ropeInverseFrequencies(D, theta), plain(D, theta))).toBeLessThan(1e-14);
      expect(relErr(ropeInverseFrequencies(D, theta, null), plain(D, theta))).toBeLessThan(1e-14);
    }
  });

  it('linear scaling divides every frequency by the factor', () => {
    for (const factor of [2, 4, 8.5]) {
      const got = ropeInverseFrequencies(64, 10000, { type: 'linear', factor });
      expect(got.length).toBe(32);
      expect(
        relErr(
          got,
          plain(64, 10000).map((f) => f / factor),
        ),
      ).toBeLessThan(1e-14);
    }
  });

  // Llama 3.2 (1B, 3B): rope_theta 500000, head_dim 64, rope_scaling {rope_type llama3, factor 32,
  // low_freq_factor 1, high_freq_factor 4, original_max_position_embeddings 8192}.
  const llama32 = { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } as const;

  it("llama3 scaling (Llama 3.2's numbers) matches transformers' _compute_llama3_parameters", () => {
    const got = ropeInverseFrequencies(64, 500000, llama32);
    const ref = llama3Reference(plain(64, 500000), 32, 1, 4, 8192);
    expect(got.length).toBe(32);
    expect(relErr(got, ref.freq)).toBeLessThan(1e-14);
    // Every band is hit: wavelengths < 2048 (i ≤ 14) stay, 2048 … 8192 (i = 15, 16, 17) blend,
    // > 8192 (i ≥ 18) are divided by 32.
    const bands = ref.band.join(',');
    expect(bands).toBe([...Array(15).fill('high'), ...Array(3).fill('medium'), ...Array(14).fill('low')].join(','));
    const f = plain(64, 500000);
    for (let i = 0; i < 32; i++) {
      if (ref.band[i] === 'high') expect(got[i]! / f[i]!).toBeCloseTo(1, 14);
      else if (ref.band[i] === 'low') expect(got[i]! / (f[i]! / 32)).toBeCloseTo(1, 14);
      else {
        // Strictly between the two, and neither.
        expect(got[i]).toBeGreaterThan((f[i]! / 32) * 1.01);
        expect(got[i]).toBeLessThan(f[i]! * 0.99);
      }
    }
    expect(got[0]).toBe(1);
    expect(got[31]).toBeCloseTo(500000 ** (-62 / 64) / 32, 18);
    // The frequencies still fall monotonically through the blended band.
    for (let i = 1; i < 32; i++) expect(got[i]).toBeLessThan(got[i - 1]!);
  });

  it('llama3 scaling at other settings, with bands on both sides of each boundary', () => {
    for (const s of [
      { D: 128, theta: 500000, factor: 8, low: 1, high: 4, orig: 8192 }, // Llama 3.1
      { D: 64, theta: 10000, factor: 4, low: 2, high: 8, orig: 512 },
      { D: 16, theta: 10000, factor: 16, low: 1, high: 32, orig: 2048 },
    ]) {
      const got = ropeInverseFrequencies(s.D, s.theta, {
        type: 'llama3',
        factor: s.factor,
        lowFreqFactor: s.low,
        highFreqFactor: s.high,
        originalMaxPositions: s.orig,
      });
      const ref = llama3Reference(plain(s.D, s.theta), s.factor, s.low, s.high, s.orig);
      expect(relErr(got, ref.freq)).toBeLessThan(1e-14);
      for (const band of ['high', 'medium', 'low'] as const) expect(ref.band, `${JSON.stringify(s)} ${band}`).toContain(band);
    }
  });

  it('a wavelength exactly on a boundary takes the blend (smooth = 0 or 1), as transformers does', () => {
    // D = 2: the one frequency is 1, wavelength 2π. orig/low = 2π puts it on the low boundary
    // (smooth = 0: f/factor), orig/high = 2π on the high boundary (smooth = 1: f).
    const twoPi = 2 * Math.PI;
    const at = (orig: number) =>
      ropeInverseFrequencies(2, 10000, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: orig })[0];
    expect(at(twoPi)).toBeCloseTo(1 / 8, 14);
    expect(at(4 * twoPi)).toBeCloseTo(1, 14);
    expect(llama3Reference([1], 8, 1, 4, twoPi).freq[0]).toBeCloseTo(1 / 8, 14);
    expect(llama3Reference([1], 8, 1, 4, 4 * twoPi).freq[0]).toBeCloseTo(1, 14);
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

  // pos0: a generation's cached prefix. Tables hold exactly the positions the call reads
  // (pos0 … pos0 + S − 1), so an off-by-one past the end reads out of bounds (zeros) and fails.
  const offsetCases: (Case & { pos0: number })[] = [
    { T: 1, S: 1, heads: 2, D: 4, ld: 8, theta: 10000, pos0: 5 },
    { T: 7, S: 7, heads: 3, D: 6, ld: 18, theta: 10000, pos0: 12 },
    { T: 14, S: 7, heads: 2, D: 6, ld: 17, theta: 10000, pos0: 3 },
    { T: 3, S: 3, heads: 1, D: 128, ld: 131, theta: 500000, pos0: 1000 },
  ];
  for (const c of offsetCases) {
    it(`pos0=${c.pos0}: forward, inverse and round trip T=${c.T} S=${c.S} heads=${c.heads} D=${c.D} ld=${c.ld}`, async () => {
      const rt = gpu();
      const { T, S, heads, D, ld, theta, pos0 } = c;
      const x = randn(T * ld, T + D + ld + 7);
      const w = randn(T * ld, T + D + ld + 8);
      const P = pos0 + S;
      const tables = ropeTables(P, ropeInverseFrequencies(D, theta));
      const tcos = rt.tensor([P, D / 2], 'cos', tables.cos);
      const tsin = rt.tensor([P, D / 2], 'sin', tables.sin);
      const tx = rt.tensor([T, ld], 'x', x);
      const tw = rt.tensor([T, ld], 'w', w);
      const args = { cos: tcos, sin: tsin, T, S, heads, headDim: D, ld: ld === heads * D ? undefined : ld, pos0 };
      await checked(rt, () => {
        rope(rt, { ...args, x: tx });
        rope(rt, { ...args, x: tw, inverse: true });
      });
      const fwd = await rt.read(tx);
      expect(relErr(fwd, ropeRef(x, T, S, heads, D, ld, theta, false, pos0))).toBeLessThan(1e-5);
      expect(relErr(await rt.read(tw), ropeRef(w, T, S, heads, D, ld, theta, true, pos0))).toBeLessThan(1e-5);
      // Not the rotation from position 0.
      expect(relErr(fwd, ropeRef(x, T, S, heads, D, ld, theta))).toBeGreaterThan(1e-2);
      await checked(rt, () => rope(rt, { ...args, x: tx, inverse: true }));
      expect(relErr(await rt.read(tx), x)).toBeLessThan(1e-5);
      rt.release(tcos, tsin, tx, tw);
    });
  }

  it('a row at pos0 + t gives the bits of row pos0 + t in a call from 0', async () => {
    // Generating with a KV cache rotates the new token as the full sequence would have.
    const rt = gpu();
    const [S, heads, D, pos0] = [9, 2, 8, 6];
    const tables = ropeTables(S, ropeInverseFrequencies(D, 10000));
    const tcos = rt.tensor([S, D / 2], 'cos', tables.cos);
    const tsin = rt.tensor([S, D / 2], 'sin', tables.sin);
    const x = randn(S * heads * D, 77);
    const tall = rt.tensor([S, heads * D], 'all', x);
    const ttail = rt.tensor([S - pos0, heads * D], 'tail', x.slice(pos0 * heads * D));
    await checked(rt, () => {
      rope(rt, { x: tall, cos: tcos, sin: tsin, T: S, S, heads, headDim: D });
      rope(rt, { x: ttail, cos: tcos, sin: tsin, T: S - pos0, S: S - pos0, heads, headDim: D, pos0 });
    });
    expect(await rt.read(ttail)).toEqual((await rt.read(tall)).slice(pos0 * heads * D));
    rt.release(tcos, tsin, tall, ttail);
  });

  it('llama3-scaled tables with pos0 rotate by pos · f_llama3', async () => {
    const rt = gpu();
    const [T, S, heads, D, pos0] = [4, 4, 2, 64, 8000];
    const scaling = { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } as const;
    const plainFreq = Array.from({ length: D / 2 }, (_, i) => 1 / 500000 ** ((2 * i) / D));
    const refFreq = llama3Reference(plainFreq, 32, 1, 4, 8192).freq;
    const tables = ropeTables(pos0 + S, ropeInverseFrequencies(D, 500000, scaling));
    const tcos = rt.tensor([pos0 + S, D / 2], 'cos', tables.cos);
    const tsin = rt.tensor([pos0 + S, D / 2], 'sin', tables.sin);
    const x = randn(T * heads * D, 78);
    const tx = rt.tensor([T, heads * D], 'x', x);
    await checked(rt, () => rope(rt, { x: tx, cos: tcos, sin: tsin, T, S, heads, headDim: D, pos0 }));
    const y = await rt.read(tx);
    // Angles up to 8000 rad: the f32 table entries carry ~1e-7 relative error each.
    expect(relErr(y, ropeFreqRef(x, T, S, heads, D, D * heads, refFreq, false, pos0))).toBeLessThan(1e-5);
    expect(relErr(y, ropeRef(x, T, S, heads, D, D * heads, 500000, false, pos0))).toBeGreaterThan(1e-2);
    rt.release(tcos, tsin, tx);
  });

  it('the inverse rotation is the backward of the forward (finite differences)', () => {
    const [T, S, heads, D, ld, theta] = [6, 3, 2, 4, 11, 100];
    const x = toF64(randn(T * ld, 1));
    const w = randn(T * ld, 2);
    const fd = finiteDiff(x, (xx) => dot(w, ropeRef(xx, T, S, heads, D, ld, theta)));
    expect(relErr(ropeRef(w, T, S, heads, D, ld, theta, true), fd)).toBeLessThan(1e-6);
    // …and the forward is not its own backward (the test can tell them apart).
    expect(relErr(ropeRef(w, T, S, heads, D, ld, theta), fd)).toBeGreaterThan(1e-2);
    // With pos0 as well.
    const fd0 = finiteDiff(x, (xx) => dot(w, ropeRef(xx, T, S, heads, D, ld, theta, false, 7)));
    expect(relErr(ropeRef(w, T, S, heads, D, ld, theta, true, 7), fd0)).toBeLessThan(1e-6);
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
