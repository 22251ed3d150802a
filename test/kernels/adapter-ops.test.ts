import { describe, expect, it } from 'vitest';
import { columnDot, doraNorm, rowSumSquares, scaleColumns } from '../../src/kernels/adapter-ops';
import { checked, useGpu } from '../helpers/gpu';
import { dot, finiteDiff, randn, relErr } from '../helpers/ref';
import { columnDotRef, doraNormRef, scaleColumnsRef, toF64 } from '../helpers/ref-ops';
import { describeReducePaths } from './reduce-paths';

const gpu = useGpu();

describe('scaleColumns', () => {
  const shapes: [number, number][] = [
    [1, 1],
    [3, 5],
    [7, 67],
    [70, 13],
    [2, 300],
  ];
  for (const [T, N] of shapes) {
    for (const [bias, beta] of [
      [false, 0],
      [true, 0],
      [false, 1],
      [true, 0.5],
    ] as const) {
      it(`T=${T} N=${N}${bias ? ' bias' : ''}${beta ? ` beta=${beta}` : ''}`, async () => {
        const rt = gpu();
        const a = randn(T * N, T * N);
        const v = randn(N, N + 1, 2);
        const b = randn(N, N + 2);
        // beta = 0 must not read out: start it at NaN then.
        const out0 = beta ? randn(T * N, 3) : new Float32Array(T * N).fill(Number.NaN);
        const ta = rt.tensor([T, N], 'a', a);
        const tv = rt.tensor([N], 'v', v);
        const tb = rt.tensor([N], 'bias', b);
        const to = rt.tensor([T, N], 'out', out0);
        await checked(rt, () => scaleColumns(rt, ta, tv, to, T, N, { beta, bias: bias ? tb : undefined }));
        const ref = scaleColumnsRef(a, v, T, N, bias ? b : undefined, beta, out0);
        expect(relErr(await rt.read(to), ref)).toBeLessThan(1e-6);
        rt.release(ta, tv, tb, to);
      });
    }
  }
});

describe('columnDot', () => {
  // T: 1, < 4 row lanes, not a multiple of 4, > 64; N: 1, < 64, > 64 (several workgroups).
  const shapes: [number, number][] = [
    [1, 1],
    [3, 5],
    [5, 67],
    [70, 13],
    [9, 130],
    [4, 64],
  ];
  for (const [T, N] of shapes) {
    for (const [scale, beta] of [
      [false, 0],
      [true, 0],
      [false, 1],
      [true, 0.25],
    ] as const) {
      it(`T=${T} N=${N}${scale ? ' scale' : ''}${beta ? ` beta=${beta}` : ''}`, async () => {
        const rt = gpu();
        const a = randn(T * N, T + 7 * N);
        const b = randn(T * N, T + 7 * N + 1);
        const s = randn(N, N + 9, 3);
        const out0 = beta ? randn(N, 4) : new Float32Array(N).fill(Number.NaN);
        const ta = rt.tensor([T, N], 'a', a);
        const tb = rt.tensor([T, N], 'b', b);
        const ts = rt.tensor([N], 'scale', s);
        const to = rt.tensor([N], 'out', out0);
        await checked(rt, () => columnDot(rt, ta, tb, to, T, N, { beta, scale: scale ? ts : undefined }));
        const ref = columnDotRef(a, b, T, N, scale ? s : undefined, beta, out0);
        expect(relErr(await rt.read(to), ref)).toBeLessThan(1e-5);
        rt.release(ta, tb, ts, to);
      });
    }
  }

  it('is the backward of scaleColumns with respect to v (finite differences)', () => {
    const [T, N] = [6, 5];
    const a = randn(T * N, 1);
    const v = toF64(randn(N, 2));
    const w = randn(T * N, 3);
    const bias = randn(N, 4);
    const fd = finiteDiff(v, (vv) => dot(w, scaleColumnsRef(a, vv, T, N, bias)));
    expect(relErr(columnDotRef(w, a, T, N), fd)).toBeLessThan(1e-6);
    // …and scaleColumns by v is the backward with respect to a.
    const a64 = toF64(a);
    const fdA = finiteDiff(a64, (aa) => dot(w, scaleColumnsRef(aa, v, T, N, bias)));
    expect(relErr(scaleColumnsRef(w, v, T, N), fdA)).toBeLessThan(1e-6);
  });
});

describe('doraNorm', () => {
  describeReducePaths(gpu, () => {
    const cases: [number, number, number][] = [
      [1, 1, 1],
      [5, 7, 1],
      [3, 70, 2],
      [70, 9, 4],
      [6, 130, 3],
    ];
    for (const [out, inF, r] of cases) {
      for (const fanInFanOut of [false, true]) {
        it(`out=${out} in=${inF} r=${r}${fanInFanOut ? ' fan_in_fan_out' : ''}`, async () => {
          const rt = gpu();
          const w = randn(out * inF, out + inF + r, 0.5);
          const a = randn(r * inF, out + inF + r + 1);
          const b = randn(out * r, out + inF + r + 2);
          const m = randn(out, out + 3, 2);
          const s = 0.75;
          const tw = rt.tensor([w.length], 'W', w);
          const ta = rt.tensor([r, inF], 'A', a);
          const tb = rt.tensor([out, r], 'B', b);
          const tm = rt.tensor([out], 'm', m);
          const tinv = rt.tensor([out], 'invNorm');
          const tscale = rt.tensor([out], 'scale');
          const tsq = rt.tensor([out], 'rowSquares');
          await checked(rt, () => {
            rowSumSquares(rt, tw, tsq, out, inF, fanInFanOut);
            doraNorm(rt, {
              weight: tw,
              weightRowSquares: tsq,
              loraA: ta,
              loraB: tb,
              magnitude: tm,
              invNorm: tinv,
              scale: tscale,
              outFeatures: out,
              inFeatures: inF,
              rank: r,
              s,
              fanInFanOut,
            });
          });
          const noUpdate = doraNormRef(w, a, new Float32Array(out * r), new Float32Array(out).fill(1), out, inF, r, s, fanInFanOut);
          expect(
            relErr(
              await rt.read(tsq),
              noUpdate.invNorm.map((v) => 1 / (v * v)),
            ),
          ).toBeLessThan(1e-5);
          const ref = doraNormRef(w, a, b, m, out, inF, r, s, fanInFanOut);
          expect(relErr(await rt.read(tinv), ref.invNorm)).toBeLessThan(1e-5);
          expect(relErr(await rt.read(tscale), ref.scale)).toBeLessThan(1e-5);
          if (out > 1 && inF > 1) {
            // The layouts are told apart: the other layout gives other norms.
            const other = doraNormRef(w, a, b, m, out, inF, r, s, !fanInFanOut);
            expect(relErr(await rt.read(tinv), other.invNorm)).toBeGreaterThan(1e-3);
          }
          rt.release(tw, ta, tb, tm, tinv, tscale, tsq);
        });
      }
    }

    it('B = 0 (fresh DoRA) gives the norm of W alone, so m = ‖W‖ makes scale 1', async () => {
      const rt = gpu();
      const [out, inF, r] = [4, 10, 2];
      const w = randn(out * inF, 1);
      const norms = new Float32Array(out);
      for (let i = 0; i < out; i++) {
        let ss = 0;
        for (let j = 0; j < inF; j++) ss += w[i * inF + j]! ** 2;
        norms[i] = Math.sqrt(ss);
      }
      const tw = rt.tensor([out, inF], 'W', w);
      const ta = rt.tensor([r, inF], 'A', randn(r * inF, 2));
      const tb = rt.zeros([out, r], 'B');
      const tm = rt.tensor([out], 'm', norms);
      const tinv = rt.tensor([out], 'invNorm');
      const tscale = rt.tensor([out], 'scale');
      const tsq = rt.tensor([out], 'rowSquares');
      await checked(rt, () => {
        rowSumSquares(rt, tw, tsq, out, inF, false);
        doraNorm(rt, {
          weight: tw,
          weightRowSquares: tsq,
          loraA: ta,
          loraB: tb,
          magnitude: tm,
          invNorm: tinv,
          scale: tscale,
          outFeatures: out,
          inFeatures: inF,
          rank: r,
          s: 2,
          fanInFanOut: false,
        });
      });
      expect(relErr(await rt.read(tscale), new Float32Array(out).fill(1))).toBeLessThan(1e-6);
      rt.release(tw, ta, tb, tm, tinv, tscale, tsq);
    });
  });
});
