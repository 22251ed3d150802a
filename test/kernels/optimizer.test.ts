import { describe, expect, it } from 'vitest';
import { adamwStep, gradNormScale } from '../../src/kernels/optimizer';
import { checked, useGpu } from '../helpers/gpu';
import { randn, relErr } from '../helpers/ref';
import { type AdamWState, adamwRef, toF64 } from '../helpers/ref-ops';

const gpu = useGpu();

describe('adamwStep', () => {
  const hypers = [
    { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 },
    { lr: 3e-3, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0 },
  ];
  for (const [hi, h] of hypers.entries()) {
    for (const n of [1, 300]) {
      for (const clip of [1, 0.37]) {
        it(`five steps n=${n} hyper#${hi} gscale=${clip}`, async () => {
          const rt = gpu();
          const p0 = randn(n, n + hi);
          const exact: AdamWState = { p: toF64(p0), m: new Float64Array(n), v: new Float64Array(n) };
          const tp = rt.tensor([n], 'p', p0);
          const tg = rt.tensor([n], 'g');
          const tm = rt.zeros([n], 'm');
          const tv = rt.zeros([n], 'v');
          const ts = rt.tensor([2], 'gscale', new Float32Array([clip, 123]));
          for (let step = 1; step <= 5; step++) {
            // Gradients vary in size and sign from step to step (some tiny, some large).
            const g = randn(n, 1000 * step + n, step === 3 ? 1e-3 : 2);
            rt.upload(tg, g);
            await checked(rt, () => adamwStep(rt, tp, tg, tm, tv, ts, h, step));
            adamwRef(exact, g, step, h, clip);
          }
          // 1 − β reaches the GPU as its own uniform, so even v follows PyTorch's float64 betas.
          expect(relErr(await rt.read(tp), exact.p)).toBeLessThan(1e-5);
          expect(relErr(await rt.read(tm), exact.m)).toBeLessThan(1e-5);
          expect(relErr(await rt.read(tv), exact.v)).toBeLessThan(1e-5);
          rt.release(tp, tg, tm, tv, ts);
        });
      }
    }
  }

  it('the first step moves every parameter by about lr (bias correction) and decays decoupled', async () => {
    const rt = gpu();
    const n = 5;
    const h = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5 };
    const p0 = new Float32Array([1, -2, 3, 0.5, 0]);
    const g = new Float32Array([1e-3, -4, 100, 0, 0.2]);
    const tp = rt.tensor([n], 'p', p0);
    const tg = rt.tensor([n], 'g', g);
    const tm = rt.zeros([n], 'm');
    const tv = rt.zeros([n], 'v');
    const ts = rt.tensor([2], 'gscale', new Float32Array([1, 0]));
    await checked(rt, () => adamwStep(rt, tp, tg, tm, tv, ts, h, 1));
    const p = await rt.read(tp);
    // m̂ = g, v̂ = g²: the update is lr·sign(g) (0 where g = 0), after p ← p(1 − lr·wd).
    for (let i = 0; i < n; i++) {
      const expected = p0[i]! * (1 - h.lr * h.weightDecay) - h.lr * Math.sign(g[i]!);
      expect(p[i]).toBeCloseTo(expected, 5);
    }
    rt.release(tp, tg, tm, tv, ts);
  });
});

describe('gradNormScale', () => {
  const sizes = [1, 7, 300, 1000];
  async function run(maxNorm: number, scale = 1): Promise<{ gscale: Float32Array; norm: number }> {
    const rt = gpu();
    const grads = sizes.map((n, i) => randn(n, 50 + i, scale));
    const tensors = grads.map((g, i) => rt.tensor([g.length], `g${i}`, g));
    const partials = rt.tensor([sizes.length], 'partials');
    const gs = rt.tensor([2], 'gscale', new Float32Array([Number.NaN, Number.NaN]));
    await checked(rt, () => gradNormScale(rt, tensors, partials, gs, maxNorm));
    const out = await rt.read(gs);
    rt.release(...tensors, partials, gs);
    let ss = 0;
    for (const g of grads) for (const v of g) ss += v * v;
    return { gscale: out, norm: Math.sqrt(ss) };
  }

  it('reports the global norm over several tensors and clips to maxNorm', async () => {
    const { gscale, norm } = await run(1);
    expect(norm).toBeGreaterThan(10);
    expect(Math.abs(gscale[1]! - norm) / norm).toBeLessThan(1e-5);
    expect(Math.abs(gscale[0]! - 1 / (norm + 1e-6)) * norm).toBeLessThan(1e-5);
  });

  it('does not scale up: factor 1 when the norm is below maxNorm', async () => {
    const { gscale, norm } = await run(5, 0.01);
    expect(norm).toBeLessThan(5);
    expect(gscale[0]).toBe(1);
    expect(Math.abs(gscale[1]! - norm) / norm).toBeLessThan(1e-5);
  });

  it('maxNorm ≤ 0 disables clipping but still reports the norm', async () => {
    for (const maxNorm of [0, -1]) {
      const { gscale, norm } = await run(maxNorm);
      expect(gscale[0]).toBe(1);
      expect(Math.abs(gscale[1]! - norm) / norm).toBeLessThan(1e-5);
    }
  });

  it('feeds AdamW: clipping the gradient equals AdamW on the clipped gradient', async () => {
    const rt = gpu();
    const n = 300;
    const h = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const p0 = randn(n, 1);
    // Gradients small enough that eps matters in the update, so the clip factor shows in p
    // (m/√v alone is scale-free), not only in m and v.
    const g = randn(n, 2, 1e-7);
    const tp = rt.tensor([n], 'p', p0);
    const tg = rt.tensor([n], 'g', g);
    const tm = rt.zeros([n], 'm');
    const tv = rt.zeros([n], 'v');
    const partials = rt.tensor([1], 'partials');
    const gs = rt.tensor([2], 'gscale');
    const maxNorm = 1e-7;
    await checked(rt, () => {
      gradNormScale(rt, [tg], partials, gs, maxNorm);
      adamwStep(rt, tp, tg, tm, tv, gs, h, 1);
    });
    let ss = 0;
    for (const v of g) ss += v * v;
    const k = Math.min(1, maxNorm / (Math.sqrt(ss) + 1e-6));
    expect(k).toBeLessThan(0.5);
    const state: AdamWState = { p: toF64(p0), m: new Float64Array(n), v: new Float64Array(n) };
    adamwRef(state, g, 1, h, k, true);
    expect(relErr(await rt.read(tm), state.m)).toBeLessThan(1e-5);
    expect(relErr(await rt.read(tp), state.p)).toBeLessThan(1e-5);
    rt.release(tp, tg, tm, tv, partials, gs);
  });
});
