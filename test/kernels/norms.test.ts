import { describe, expect, it } from 'vitest';
import { layernormBackward, layernormForward, rmsnormBackward, rmsnormForward } from '../../src/kernels/norms';
import { checked, useGpu } from '../helpers/gpu';
import { dot, finiteDiff, randn, relErr } from '../helpers/ref';
import { layernormBwdRef, layernormFwdRef, rmsnormBwdRef, rmsnormFwdRef, toF64 } from '../helpers/ref-ops';
import { describeReducePaths } from './reduce-paths';

const gpu = useGpu();

// One row, one column, C not a multiple of 4, C < 64 (idle threads), C > 64 (threads loop),
// rows > 64.
const shapes: [number, number][] = [[1, 1], [1, 7], [3, 63], [5, 130], [70, 13], [2, 257]];
const EPS = 1e-5;

function offsetRows(x: Float32Array, C: number): Float32Array {
  // A per-row offset makes the layernorm mean matter and rmsnorm see non-centred rows.
  for (let i = 0; i < x.length; i++) x[i] += 0.3 * (Math.floor(i / C) % 5) - 0.6;
  return x;
}

describe('rmsnorm', () => {
  describeReducePaths(gpu, () => {
    for (const [T, C] of shapes) {
      for (const resid of [false, true]) {
        it(`forward + backward T=${T} C=${C}${resid ? ' with dres' : ''}`, async () => {
          const rt = gpu();
          const x = offsetRows(randn(T * C, T * 7 + C), C);
          const w = randn(C, C + 1, 1.5);
          const dy = randn(T * C, T + 3 * C);
          const dres = randn(T * C, 99 + T);
          const tx = rt.tensor([T, C], 'x', x);
          const tw = rt.tensor([C], 'w', w);
          const ty = rt.tensor([T, C], 'y');
          const tr = rt.tensor([T], 'rstd');
          const tdy = rt.tensor([T, C], 'dy', dy);
          const tdx = rt.tensor([T, C], 'dx');
          const tdres = rt.tensor([T, C], 'dres', dres);
          await checked(rt, () => {
            rmsnormForward(rt, tx, tw, ty, tr, T, C, EPS);
            rmsnormBackward(rt, tx, tw, tr, tdy, tdx, T, C, resid ? tdres : undefined);
          });
          const ref = rmsnormFwdRef(x, w, T, C, EPS);
          expect(relErr(await rt.read(ty), ref.y)).toBeLessThan(1e-5);
          expect(relErr(await rt.read(tr), ref.rstd)).toBeLessThan(1e-5);
          const dxRef = rmsnormBwdRef(x, w, dy, T, C, EPS, resid ? dres : undefined);
          // With C = 1 the two terms of dx cancel to r·w·dy·eps/(x² + eps): measure the error
          // against the size of the terms there, as f32 cannot do better.
          let floor = 1e-12;
          if (C === 1) for (let t = 0; t < T; t++) floor = Math.max(floor, Math.abs(ref.rstd[t] * w[0] * dy[t]));
          expect(relErr(await rt.read(tdx), dxRef, floor)).toBeLessThan(1e-5);
          rt.release(tx, tw, ty, tr, tdy, tdx, tdres);
        });
      }
    }
  }, { serial: true });

  for (const [T, C] of [[1, 1], [2, 7], [3, 70]] as const) {
    it(`analytic backward matches finite differences T=${T} C=${C}`, () => {
      const x = toF64(offsetRows(randn(T * C, 5 + C), C));
      const w = randn(C, 6);
      const up = randn(T * C, 7);
      const dres = randn(T * C, 8);
      const fd = finiteDiff(x, (xx) => dot(up, rmsnormFwdRef(xx, w, T, C, EPS).y));
      expect(relErr(rmsnormBwdRef(x, w, up, T, C, EPS), fd)).toBeLessThan(1e-6);
      // The residual path adds its gradient unchanged: L = Σ up·y + Σ dres·x.
      const fd2 = finiteDiff(x, (xx) => dot(up, rmsnormFwdRef(xx, w, T, C, EPS).y) + dot(dres, xx));
      expect(relErr(rmsnormBwdRef(x, w, up, T, C, EPS, dres), fd2)).toBeLessThan(1e-6);
    });
  }
});

describe('serial norms (CPU adapters) equal the workgroup kernels bit for bit', () => {
  // C = 200: lane partials of three and four terms; C = 7: idle lanes; T = 70: a second workgroup.
  for (const norm of ['rmsnorm', 'layernorm'] as const) {
    for (const [T, C] of [[70, 200], [3, 7], [1, 1]] as const) {
      it(`${norm} T=${T} C=${C}`, async () => {
        const rt = gpu();
        const x = rt.tensor([T, C], 'x', offsetRows(randn(T * C, 41 + C), C));
        const w = rt.tensor([C], 'w', randn(C, 42, 1.5));
        const b = rt.tensor([C], 'b', randn(C, 45));
        const dy = rt.tensor([T, C], 'dy', randn(T * C, 43));
        const dres = rt.tensor([T, C], 'dres', randn(T * C, 44));
        const run = async (serial: boolean) => {
          rt.serialRows = serial;
          const y = rt.tensor([T, C], 'y');
          const stats = rt.zeros([T, 2], 'stats');
          const dx = rt.tensor([T, C], 'dx');
          await checked(rt, () => {
            if (norm === 'rmsnorm') {
              rmsnormForward(rt, x, w, y, stats, T, C, EPS);
              rmsnormBackward(rt, x, w, stats, dy, dx, T, C, dres);
            } else {
              layernormForward(rt, x, w, b, y, stats, T, C, EPS);
              layernormBackward(rt, x, w, stats, dy, dx, T, C, dres);
            }
          });
          const out = [await rt.read(y), await rt.read(stats), await rt.read(dx)];
          rt.release(y, stats, dx);
          return out;
        };
        try {
          expect(await run(true)).toEqual(await run(false));
        } finally {
          rt.serialRows = rt.info.cpuAdapter;
          rt.release(x, w, b, dy, dres);
        }
      });
    }
  }
});

describe('layernorm', () => {
  describeReducePaths(gpu, () => {
    for (const [T, C] of shapes) {
      for (const resid of [false, true]) {
        it(`forward + backward T=${T} C=${C}${resid ? ' with dres' : ''}`, async () => {
          const rt = gpu();
          const x = offsetRows(randn(T * C, T * 11 + C), C);
          const w = randn(C, C + 2, 1.5);
          const b = randn(C, C + 3);
          const dy = randn(T * C, T + 5 * C);
          const dres = randn(T * C, 77 + T);
          const tx = rt.tensor([T, C], 'x', x);
          const tw = rt.tensor([C], 'w', w);
          const tb = rt.tensor([C], 'b', b);
          const ty = rt.tensor([T, C], 'y');
          const ts = rt.tensor([T, 2], 'stats');
          const tdy = rt.tensor([T, C], 'dy', dy);
          const tdx = rt.tensor([T, C], 'dx');
          const tdres = rt.tensor([T, C], 'dres', dres);
          await checked(rt, () => {
            layernormForward(rt, tx, tw, tb, ty, ts, T, C, EPS);
            layernormBackward(rt, tx, tw, ts, tdy, tdx, T, C, resid ? tdres : undefined);
          });
          const ref = layernormFwdRef(x, w, b, T, C, EPS);
          expect(relErr(await rt.read(ty), ref.y)).toBeLessThan(1e-5);
          const stats = await rt.read(ts);
          const mean = stats.filter((_, i) => i % 2 === 0);
          const rstd = stats.filter((_, i) => i % 2 === 1);
          expect(relErr(mean, ref.mean)).toBeLessThan(1e-5);
          expect(relErr(rstd, ref.rstd)).toBeLessThan(1e-5);
          const dxRef = layernormBwdRef(x, w, dy, T, C, EPS, resid ? dres : undefined);
          const dx = await rt.read(tdx);
          if (C === 1) {
            // d layernorm/dx is 0 for a single column; only the residual survives.
            expect(relErr(dx, resid ? dres : new Float32Array(T), 1)).toBeLessThan(1e-5);
          } else {
            expect(relErr(dx, dxRef)).toBeLessThan(1e-5);
          }
          rt.release(tx, tw, tb, ty, ts, tdy, tdx, tdres);
        });
      }
    }
  }, { serial: true });

  for (const [T, C] of [[1, 2], [2, 7], [3, 70]] as const) {
    it(`analytic backward matches finite differences T=${T} C=${C}`, () => {
      const x = toF64(offsetRows(randn(T * C, 15 + C), C));
      const w = randn(C, 16);
      const b = randn(C, 17);
      const up = randn(T * C, 18);
      const dres = randn(T * C, 19);
      const fd = finiteDiff(x, (xx) => dot(up, layernormFwdRef(xx, w, b, T, C, EPS).y));
      expect(relErr(layernormBwdRef(x, w, up, T, C, EPS), fd)).toBeLessThan(1e-6);
      const fd2 = finiteDiff(x, (xx) => dot(up, layernormFwdRef(xx, w, b, T, C, EPS).y) + dot(dres, xx));
      expect(relErr(layernormBwdRef(x, w, up, T, C, EPS, dres), fd2)).toBeLessThan(1e-6);
    });
  }
});
