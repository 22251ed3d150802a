import { describe, expect, it } from 'vitest';
import { attentionBackward, attentionForward, type AttentionLayout, keyBiasGrad } from '../../src/kernels/attention';
import { ropeInverseFrequencies, ropeTables } from '../../src/kernels/rope';
import { checked, useGpu } from '../helpers/gpu';
import { dot, finiteDiff, randn, relErr } from '../helpers/ref';
import { attentionBwdRef, attentionFwdRef, ropeRef, toF64, type AttnLayoutRef } from '../helpers/ref-ops';

const gpu = useGpu();

/** Each element's own relative error: the cancellation this kernel avoids hides in small elements. */
function worstElementError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.abs(expected[i]!));
  return worst;
}

/** d loss/d b for k = R_j(k̃ + b) given k itself: the rows of dK turned back by −θ_j and summed (float64). */
function keyBiasGradRef(dk: Float64Array, T: number, S: number, KVH: number, D: number, theta: number): Float64Array {
  const unrotated = ropeRef(dk, T, S, KVH, D, KVH * D, theta, true);
  const db = new Float64Array(KVH * D);
  for (let t = 0; t < T; t++) for (let c = 0; c < KVH * D; c++) db[c]! += unrotated[t * KVH * D + c]!;
  return db;
}

describe('keyBiasGrad (the key bias under RoPE, without cancellation)', () => {
  // θ = 10⁶ with D = 8 turns the last rotation pair by 3·10⁻⁵ rad a position: its gradient is
  // 10⁻³–10⁻⁴ of the others', and the plain column sums of dK lose it.
  const cases = [
    // [B, S, H, KVH, D, window]
    [1, 1, 1, 1, 2, 0],
    [2, 7, 4, 2, 8, 0],
    [1, 33, 2, 1, 8, 0],
    [2, 19, 4, 4, 6, 3],
    [1, 70, 3, 1, 4, 0],
  ] as const;
  for (const [B, S, H, KVH, D, window] of cases) {
    it(`B=${B} S=${S} H=${H} KVH=${KVH} D=${D} window=${window}`, async () => {
      const rt = gpu();
      const theta = 1e6;
      const T = B * S;
      const q = randn(T * H * D, S + 1, 2);
      const k = randn(T * KVH * D, S + 2, 2);
      const v = randn(T * KVH * D, S + 3);
      const dout = randn(T * H * D, S + 4);
      const L: AttnLayoutRef = { B, S, H, KVH, D, ldq: H * D, ldk: KVH * D, ldv: KVH * D, qOff: 0, kOff: 0, vOff: 0, window };
      const ref = keyBiasGradRef(attentionBwdRef(q, k, v, dout, L).dk, T, S, KVH, D, theta);

      // Finite differences of Σ dO·o in the bias, which enters k after rotation by its row's θ_j.
      const kWithBias = (b: Float64Array) => {
        const rotated = ropeRef(
          Float64Array.from({ length: T * KVH * D }, (_, i) => b[i % (KVH * D)]!),
          T,
          S,
          KVH,
          D,
          KVH * D,
          theta,
        );
        return toF64(k).map((x, i) => x + rotated[i]!);
      };
      const fd = finiteDiff(new Float64Array(KVH * D), (b) => dot(dout, attentionFwdRef(q, kWithBias(b), v, L).o));
      expect(relErr(ref, fd)).toBeLessThan(1e-6);

      const layout: AttentionLayout = {
        B,
        S,
        heads: H,
        kvHeads: KVH,
        headDim: D,
        ldq: H * D,
        ldk: KVH * D,
        ldv: KVH * D,
        qOffset: 0,
        kOffset: 0,
        vOffset: 0,
        window,
      };
      const tables = ropeTables(S, ropeInverseFrequencies(D, theta));
      const t = {
        q: rt.tensor([T, H * D], 'q', q),
        k: rt.tensor([T, KVH * D], 'k', k),
        v: rt.tensor([T, KVH * D], 'v', v),
        dout: rt.tensor([T, H * D], 'dout', dout),
        o: rt.tensor([T, H * D], 'o'),
        p: rt.tensor([B, H, S, S], 'p'),
        dq: rt.tensor([T, H * D], 'dq'),
        dk: rt.tensor([T, KVH * D], 'dk'),
        dv: rt.tensor([T, KVH * D], 'dv'),
        ds: rt.tensor([B, H, S, S], 'ds'),
        cos: rt.tensor([tables.cos.length], 'cos', tables.cos),
        sin: rt.tensor([tables.sin.length], 'sin', tables.sin),
        db: rt.zeros([KVH * D], 'db'),
      };
      await checked(rt, () => {
        attentionForward(rt, layout, t.q, t.k, t.v, t.o, t.p);
        attentionBackward(rt, layout, t.q, t.k, t.v, t.p, t.dout, { dq: t.dq, dk: t.dk, dv: t.dv, ds: t.ds });
        keyBiasGrad(rt, layout, t.ds, t.q, t.cos, t.sin, t.db);
      });
      const got = await rt.read(t.db);
      expect(relErr(got, ref)).toBeLessThan(1e-5);
      if (S > 1) {
        expect(worstElementError(got, ref)).toBeLessThan(5e-5);
        // The column sums of the GPU's own dK, even added up in float64, miss the small elements.
        const plain = keyBiasGradRef(toF64(await rt.read(t.dk)), T, S, KVH, D, theta);
        if (D >= 6) expect(worstElementError(plain, ref)).toBeGreaterThan(10 * worstElementError(got, ref));
      } else {
        expect(got.every((x) => x === 0)).toBe(true); // one position: nothing turns, no gradient
      }
      // It adds to what db holds (gradient accumulation): a second call doubles it, exactly.
      await checked(rt, () => keyBiasGrad(rt, layout, t.ds, t.q, t.cos, t.sin, t.db));
      expect(await rt.read(t.db)).toEqual(got.map((x) => 2 * x));
      rt.release(...Object.values(t));
    });
  }
});
