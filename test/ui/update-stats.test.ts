import { describe, expect, it } from 'vitest';
import { weightUpdateStats } from '../../src/kernels/update-stats';
import { useGpu } from '../helpers/gpu';
import { randn } from '../helpers/ref';

const gpu = useGpu();

/** CPU reference in float64: mean |‖w'‖ − ‖w‖| and mean (1 − cos) over output rows. */
function reference(w: Float32Array, d: Float32Array, out: number, inF: number, fanInFanOut: boolean) {
  let dm = 0;
  let dd = 0;
  for (let i = 0; i < out; i++) {
    let n0 = 0,
      n1 = 0,
      dot = 0;
    for (let j = 0; j < inF; j++) {
      const wij = fanInFanOut ? w[j * out + i]! : w[i * inF + j]!;
      const nij = wij + d[i * inF + j]!;
      n0 += wij * wij;
      n1 += nij * nij;
      dot += wij * nij;
    }
    dm += Math.abs(Math.sqrt(n1) - Math.sqrt(n0));
    dd += n0 * n1 > 0 ? 1 - dot / Math.sqrt(n0 * n1) : 0;
  }
  return { magnitude: dm / out, direction: dd / out };
}

describe('weight update stats (ΔM, ΔD)', () => {
  const shapes: Array<[number, number, boolean]> = [
    [1, 1, false],
    [7, 5, false],
    [33, 130, false],
    [48, 16, true],
    [100, 70, true],
  ];
  for (const [out, inF, fanInFanOut] of shapes) {
    it(`out=${out} in=${inF} fanInFanOut=${fanInFanOut}`, async () => {
      const rt = gpu();
      const w = randn(out * inF, out + inF);
      const d = randn(out * inF, out * inF + 3);
      for (let i = 0; i < d.length; i++) d[i]! *= 0.1;
      const wt = rt.tensor(fanInFanOut ? [inF, out] : [out, inF], 'w', w);
      const got = await weightUpdateStats(rt, wt, d, { outFeatures: out, inFeatures: inF, fanInFanOut });
      const ref = reference(w, d, out, inF, fanInFanOut);
      expect(got.magnitude).toBeCloseTo(ref.magnitude, 4);
      expect(Math.abs(got.direction - ref.direction)).toBeLessThan(1e-4 + 1e-3 * ref.direction);
      rt.release(wt);
    });
  }

  it('is zero for ΔW = 0 and reports no direction change for a pure rescale', async () => {
    const rt = gpu();
    const out = 6,
      inF = 9;
    const w = randn(out * inF, 11);
    const wt = rt.tensor([out, inF], 'w', w);
    const zero = await weightUpdateStats(rt, wt, new Float32Array(out * inF), { outFeatures: out, inFeatures: inF, fanInFanOut: false });
    expect(zero.magnitude).toBe(0);
    expect(Math.abs(zero.direction)).toBeLessThan(1e-6);
    const rescale = await weightUpdateStats(
      rt,
      wt,
      w.map((v) => v * 0.5),
      { outFeatures: out, inFeatures: inF, fanInFanOut: false },
    );
    expect(Math.abs(rescale.direction)).toBeLessThan(1e-5);
    expect(rescale.magnitude).toBeGreaterThan(0);
    rt.release(wt);
  });
});
