import { describe, expect, it } from 'vitest';
import { add, dropout, gatedBackward, gatedForward, geluBackward, geluForward } from '../../src/kernels/elementwise';
import { checked, useGpu } from '../helpers/gpu';
import { dot, finiteDiff, randn, relErr } from '../helpers/ref';
import { gegluBwdRef, gegluRef, geluGradRef, geluRef, swigluBwdRef, swigluRef, toF64 } from '../helpers/ref-ops';

const gpu = useGpu();

// 1 element, less than a workgroup, just over one, several with a ragged tail.
const sizes = [1, 7, 257, 1000];

describe('add', () => {
  for (const n of sizes) {
    it(`n=${n}`, async () => {
      const rt = gpu();
      const a = randn(n, n);
      const b = randn(n, n + 1);
      const ta = rt.tensor([n], 'a', a);
      const tb = rt.tensor([n], 'b', b);
      const tc = rt.tensor([n], 'c');
      await checked(rt, () => add(rt, ta, tb, tc));
      const ref = new Float64Array(n);
      for (let i = 0; i < n; i++) ref[i] = a[i]! + b[i]!;
      expect(relErr(await rt.read(tc), ref)).toBeLessThan(1e-6);
      rt.release(ta, tb, tc);
    });
  }
});

/** Runs gatedForward and gatedBackward ('silu' or 'gelu_tanh'), or the swiglu wrappers. */
async function runGated(
  act: 'silu' | 'gelu_tanh',
  gate: Float32Array,
  up: Float32Array,
  dh: Float32Array,
): Promise<{ h: Float32Array; dgate: Float32Array; dup: Float32Array }> {
  const rt = gpu();
  const n = gate.length;
  const tg = rt.tensor([n], 'gate', gate);
  const tu = rt.tensor([n], 'up', up);
  // NaN in the outputs: every element must be written.
  const nan = () => new Float32Array(n).fill(Number.NaN);
  const th = rt.tensor([n], 'h', nan());
  const tdh = rt.tensor([n], 'dh', dh);
  const tdg = rt.tensor([n], 'dgate', nan());
  const tdu = rt.tensor([n], 'dup', nan());
  await checked(rt, () => {
    gatedForward(rt, act, tg, tu, th);
    gatedBackward(rt, act, tg, tu, tdh, tdg, tdu);
  });
  const out = { h: await rt.read(th), dgate: await rt.read(tdg), dup: await rt.read(tdu) };
  rt.release(tg, tu, th, tdh, tdg, tdu);
  return out;
}

describe('swiglu', () => {
  for (const n of sizes) {
    for (const act of ['silu'] as const) {
      it(`forward + backward n=${n}`, async () => {
        const gate = randn(n, 3 * n, 4);
        const up = randn(n, 3 * n + 1, 2);
        const dh = randn(n, 3 * n + 2);
        const out = await runGated(act, gate, up, dh);
        expect(relErr(out.h, swigluRef(gate, up))).toBeLessThan(1e-5);
        const ref = swigluBwdRef(gate, up, dh);
        expect(relErr(out.dgate, ref.dgate)).toBeLessThan(1e-5);
        expect(relErr(out.dup, ref.dup)).toBeLessThan(1e-5);
      });
    }
  }

  it('analytic backward matches finite differences', () => {
    const n = 40;
    const gate = toF64(randn(n, 1, 5));
    const up = toF64(randn(n, 2, 2));
    const w = randn(n, 3);
    const ref = swigluBwdRef(gate, up, w);
    expect(
      relErr(
        ref.dgate,
        finiteDiff(gate, (g) => dot(w, swigluRef(g, up))),
      ),
    ).toBeLessThan(1e-6);
    expect(
      relErr(
        ref.dup,
        finiteDiff(up, (u) => dot(w, swigluRef(gate, u))),
      ),
    ).toBeLessThan(1e-6);
  });
});

describe('geglu (gelu_tanh(gate) · up, Gemma)', () => {
  for (const n of sizes) {
    it(`forward + backward n=${n}`, async () => {
      // |gate| up to 6: the saturated tails and the curved middle of gelu both appear.
      const gate = randn(n, 13 * n, 6);
      const up = randn(n, 13 * n + 1, 2);
      const dh = randn(n, 13 * n + 2);
      const out = await runGated('gelu_tanh', gate, up, dh);
      expect(relErr(out.h, gegluRef(gate, up))).toBeLessThan(1e-5);
      const ref = gegluBwdRef(gate, up, dh);
      expect(relErr(out.dgate, ref.dgate)).toBeLessThan(1e-5);
      expect(relErr(out.dup, ref.dup)).toBeLessThan(1e-5);
    });
  }

  it("is not swiglu: 'gelu_tanh' and 'silu' pick different kernels", async () => {
    const n = 7;
    const gate = randn(n, 1, 3);
    const up = randn(n, 2);
    const dh = randn(n, 3);
    const silu = await runGated('silu', gate, up, dh);
    const gelu = await runGated('gelu_tanh', gate, up, dh);
    // gelu(g) − silu(g) is O(0.1) at |g| ≈ 1–3.
    expect(relErr(gelu.h, swigluRef(gate, up))).toBeGreaterThan(1e-2);
    expect(relErr(silu.h, gegluRef(gate, up))).toBeGreaterThan(1e-2);
    expect(relErr(gelu.dgate, swigluBwdRef(gate, up, dh).dgate)).toBeGreaterThan(1e-2);
  });

  it('is finite for large |gate|', async () => {
    const gate = new Float32Array([-1e4, -50, -10, 10, 50, 1e4, 0]);
    const n = gate.length;
    const up = new Float32Array(n).fill(1.5);
    const dh = new Float32Array(n).fill(2);
    const out = await runGated('gelu_tanh', gate, up, dh);
    for (let i = 0; i < n; i++) {
      expect(out.h[i]).toBeCloseTo(geluRef(gate[i]!) * 1.5, 5);
      expect(out.dgate[i]).toBeCloseTo(2 * 1.5 * geluGradRef(gate[i]!), 5);
      expect(out.dup[i]).toBeCloseTo(2 * geluRef(gate[i]!), 5 - Math.log10(Math.max(1, Math.abs(gate[i]!))));
    }
  });

  it('analytic backward matches finite differences', () => {
    const n = 40;
    const gate = toF64(randn(n, 21, 5));
    const up = toF64(randn(n, 22, 2));
    const w = randn(n, 23);
    const ref = gegluBwdRef(gate, up, w);
    expect(
      relErr(
        ref.dgate,
        finiteDiff(gate, (g) => dot(w, gegluRef(g, up))),
      ),
    ).toBeLessThan(1e-6);
    expect(
      relErr(
        ref.dup,
        finiteDiff(up, (u) => dot(w, gegluRef(gate, u))),
      ),
    ).toBeLessThan(1e-6);
  });
});

describe('gelu (tanh form)', () => {
  for (const n of sizes) {
    it(`forward + backward n=${n}`, async () => {
      const rt = gpu();
      const x = randn(n, 5 * n, 4);
      const dy = randn(n, 5 * n + 1);
      const tx = rt.tensor([n], 'x', x);
      const ty = rt.tensor([n], 'y');
      const tdy = rt.tensor([n], 'dy', dy);
      const tdx = rt.tensor([n], 'dx');
      await checked(rt, () => {
        geluForward(rt, tx, ty);
        geluBackward(rt, tx, tdy, tdx);
      });
      expect(relErr(await rt.read(ty), Float64Array.from(x, geluRef))).toBeLessThan(1e-5);
      expect(
        relErr(
          await rt.read(tdx),
          Float64Array.from(x, (v, i) => dy[i]! * geluGradRef(v)),
        ),
      ).toBeLessThan(1e-5);
      rt.release(tx, ty, tdy, tdx);
    });
  }

  it('is finite and saturates for large |x|', async () => {
    const rt = gpu();
    const x = new Float32Array([-1e4, -50, -20, -10, -6, 6, 10, 20, 50, 1e4, 0, -0.5]);
    const n = x.length;
    const tx = rt.tensor([n], 'x', x);
    const ty = rt.tensor([n], 'y');
    const tdy = rt.tensor([n], 'dy', new Float32Array(n).fill(1));
    const tdx = rt.tensor([n], 'dx');
    await checked(rt, () => {
      geluForward(rt, tx, ty);
      geluBackward(rt, tx, tdy, tdx);
    });
    const y = await rt.read(ty);
    const dx = await rt.read(tdx);
    for (let i = 0; i < n; i++) {
      expect(Number.isFinite(y[i]), `y(${x[i]}) = ${y[i]}`).toBe(true);
      expect(Number.isFinite(dx[i]), `y'(${x[i]}) = ${dx[i]}`).toBe(true);
      // gelu(x) → x for x ≫ 0 and → 0 for x ≪ 0; its slope → 1 and 0.
      expect(Math.abs(y[i]! - geluRef(x[i]!))).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(x[i]!)));
      expect(Math.abs(dx[i]! - geluGradRef(x[i]!))).toBeLessThan(1e-5);
    }
    rt.release(tx, ty, tdy, tdx);
  });

  it('analytic backward matches finite differences', () => {
    const x = toF64(randn(50, 11, 5));
    const w = randn(50, 12);
    const fd = finiteDiff(x, (xx) => dot(w, Float64Array.from(xx, geluRef)));
    expect(
      relErr(
        Float64Array.from(x, (v, i) => w[i]! * geluGradRef(v)),
        fd,
      ),
    ).toBeLessThan(1e-6);
  });
});

describe('dropout', () => {
  const n = 1000;
  const x = randn(n, 42, 3);

  async function run(p: number, seed: number, input = x, beta = 0, out0?: Float32Array): Promise<Float32Array> {
    const rt = gpu();
    const tx = rt.tensor([n], 'x', input);
    const to = rt.tensor([n], 'out', out0 ?? new Float32Array(n).fill(Number.NaN));
    await checked(rt, () => dropout(rt, tx, to, p, seed, beta));
    const out = await rt.read(to);
    rt.release(tx, to);
    return out;
  }

  it('p = 0 is the identity', async () => {
    expect(relErr(await run(0, 7), x)).toBe(0);
  });

  it('p = 0.5 keeps about half and scales kept values by 2', async () => {
    const out = await run(0.5, 1234);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (out[i] === 0) continue;
      kept++;
      expect(out[i]).toBeCloseTo(2 * x[i]!, 5);
    }
    // Binomial(1000, 0.5): σ ≈ 16, so ±80 is five sigma.
    expect(kept).toBeGreaterThan(420);
    expect(kept).toBeLessThan(580);
  });

  it('p = 0.25 keeps about three quarters, scaled by 4/3', async () => {
    const out = await run(0.25, 99);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (out[i] === 0) continue;
      kept++;
      expect(out[i]).toBeCloseTo(x[i]! / 0.75, 5);
    }
    expect(kept).toBeGreaterThan(680);
    expect(kept).toBeLessThan(820);
  });

  it('the same seed gives the same mask (backward re-applies it), a different seed another', async () => {
    const a = await run(0.5, 5);
    const b = await run(0.5, 5);
    const c = await run(0.5, 6);
    expect(Array.from(b)).toEqual(Array.from(a));
    const ones = new Float32Array(n).fill(1);
    const g = await run(0.5, 5, ones);
    for (let i = 0; i < n; i++) expect(g[i] === 0).toBe(a[i] === 0);
    let differ = 0;
    for (let i = 0; i < n; i++) if ((a[i] === 0) !== (c[i] === 0)) differ++;
    expect(differ).toBeGreaterThan(n / 4);
  });

  it('masks are not correlated with the index pattern across neighbouring seeds', async () => {
    // Seeds 0 and 1 differ in one bit; the masks must still look independent (≈ 50% agree).
    const a = await run(0.5, 0, new Float32Array(n).fill(1));
    const b = await run(0.5, 1, new Float32Array(n).fill(1));
    let same = 0;
    for (let i = 0; i < n; i++) if ((a[i] === 0) === (b[i] === 0)) same++;
    expect(same).toBeGreaterThan(400);
    expect(same).toBeLessThan(600);
  });

  it('beta = 1 accumulates into out', async () => {
    const out0 = randn(n, 77);
    const fresh = await run(0.5, 3);
    const acc = await run(0.5, 3, x, 1, out0);
    const ref = new Float64Array(n);
    for (let i = 0; i < n; i++) ref[i] = fresh[i]! + out0[i]!;
    expect(relErr(acc, ref)).toBeLessThan(1e-6);
    // beta = 0 ignores out, even when it holds NaN.
    expect(fresh.every(Number.isFinite)).toBe(true);
  });
});
