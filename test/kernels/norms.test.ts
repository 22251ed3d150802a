import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/gpu/device';
import { nodeShaderLibrary } from '../../src/gpu/node';
import type { GpuRuntime } from '../../src/gpu/runtime';
import { layernormBackward, layernormForward, rmsnormBackward, rmsnormForward } from '../../src/kernels/norms';
import { checked, useGpu } from '../helpers/gpu';
import { dot, finiteDiff, randn, relErr } from '../helpers/ref';
import { layernormBwdRef, layernormFwdRef, rmsnormBwdRef, rmsnormFwdRef, toF64 } from '../helpers/ref-ops';
import { describeReducePaths } from './reduce-paths';

const gpu = useGpu();

// One row, one column, C not a multiple of 4, C < 64 (idle threads), C > 64 (threads loop),
// rows > 64.
const shapes: [number, number][] = [
  [1, 1],
  [1, 7],
  [3, 63],
  [5, 130],
  [70, 13],
  [2, 257],
];
const EPS = 1e-5;

function offsetRows(x: Float32Array, C: number): Float32Array {
  // A per-row offset makes the layernorm mean matter and rmsnorm see non-centred rows.
  for (let i = 0; i < x.length; i++) x[i]! += 0.3 * (Math.floor(i / C) % 5) - 0.6;
  return x;
}

describe('rmsnorm', () => {
  describeReducePaths(
    gpu,
    () => {
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
            if (C === 1) for (let t = 0; t < T; t++) floor = Math.max(floor, Math.abs(ref.rstd[t]! * w[0]! * dy[t]!));
            expect(relErr(await rt.read(tdx), dxRef, floor)).toBeLessThan(1e-5);
            rt.release(tx, tw, ty, tr, tdy, tdx, tdres);
          });
        }
      }
    },
    { serial: true },
  );

  for (const [T, C] of [
    [1, 1],
    [2, 7],
    [3, 70],
  ] as const) {
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

interface RmsRun {
  y: Float32Array;
  rstd: Float32Array;
  dx: Float32Array;
}

/**
 * rmsnormForward then rmsnormBackward on the runtime's current leg. `offset` undefined calls
 * both without the weightOffset argument (as every caller did before it existed).
 */
async function runRms(
  rt: GpuRuntime,
  x: Float32Array,
  w: Float32Array,
  dy: Float32Array,
  T: number,
  C: number,
  opts: { offset?: number; dres?: Float32Array } = {},
): Promise<RmsRun> {
  const tx = rt.tensor([T, C], 'x', x);
  const tw = rt.tensor([C], 'w', w);
  const nan = (n: number) => new Float32Array(n).fill(Number.NaN);
  const ty = rt.tensor([T, C], 'y', nan(T * C));
  const tr = rt.tensor([T], 'rstd', nan(T));
  const tdy = rt.tensor([T, C], 'dy', dy);
  const tdx = rt.tensor([T, C], 'dx', nan(T * C));
  const tdres = opts.dres ? rt.tensor([T, C], 'dres', opts.dres) : undefined;
  const { offset } = opts;
  await checked(rt, () => {
    if (offset === undefined) {
      rmsnormForward(rt, tx, tw, ty, tr, T, C, EPS);
      rmsnormBackward(rt, tx, tw, tr, tdy, tdx, T, C, tdres);
    } else {
      rmsnormForward(rt, tx, tw, ty, tr, T, C, EPS, offset);
      rmsnormBackward(rt, tx, tw, tr, tdy, tdx, T, C, tdres, offset);
    }
  });
  const out = { y: await rt.read(ty), rstd: await rt.read(tr), dx: await rt.read(tdx) };
  rt.release(tx, tw, ty, tr, tdy, tdx, tdres);
  return out;
}

/** Gemma's RMSNorm weights are stored as w with the norm scaling by (1 + w); they sit near 0. */
function gemmaWeights(C: number, seed: number): Float32Array {
  return randn(C, seed, 0.5);
}

describe("rmsnorm with a weight offset (Gemma's 1 + w)", () => {
  // C = 1, 7 (idle threads), 16 (a head dim), 66 (one thread loops twice), 200 (lanes of 3 and
  // 4 terms); T = 1, 3, and 70 rows (past 64).
  const offsetShapes: [number, number][] = [
    [1, 1],
    [1, 7],
    [3, 66],
    [2, 200],
    [3, 16],
    [70, 13],
  ];

  describeReducePaths(
    gpu,
    () => {
      for (const [T, C] of offsetShapes) {
        for (const resid of [false, true]) {
          it(`offset 1: forward + backward T=${T} C=${C}${resid ? ' with dres' : ''}`, async () => {
            const rt = gpu();
            const x = offsetRows(randn(T * C, T * 17 + C), C);
            const w = gemmaWeights(C, C + 5);
            const dy = randn(T * C, T + 9 * C);
            const dres = resid ? randn(T * C, 55 + T) : undefined;
            const out = await runRms(rt, x, w, dy, T, C, { offset: 1, dres });
            const ref = rmsnormFwdRef(x, w, T, C, EPS, 1);
            expect(relErr(out.y, ref.y)).toBeLessThan(1e-5);
            expect(relErr(out.rstd, ref.rstd)).toBeLessThan(1e-5);
            const dxRef = rmsnormBwdRef(x, w, dy, T, C, EPS, dres, 1);
            let floor = 1e-12;
            if (C === 1) for (let t = 0; t < T; t++) floor = Math.max(floor, Math.abs(ref.rstd[t]! * (w[0]! + 1) * dy[t]!));
            expect(relErr(out.dx, dxRef, floor)).toBeLessThan(1e-5);
            // The offset really entered: the plain (offset 0) references are far off.
            if (C > 1) {
              expect(relErr(out.y, rmsnormFwdRef(x, w, T, C, EPS).y)).toBeGreaterThan(0.1);
              expect(relErr(out.dx, rmsnormBwdRef(x, w, dy, T, C, EPS, dres))).toBeGreaterThan(0.1);
            }
          });
        }

        it(`offset 1 with w gives the bits of offset 0 with fround(1 + w), T=${T} C=${C}`, async () => {
          // (w + 1) is one f32 addition on the GPU, and x, r, dy are the same: every product and
          // sum after it is the same operation on the same operands.
          const rt = gpu();
          const x = offsetRows(randn(T * C, T * 19 + C), C);
          const w = gemmaWeights(C, C + 6);
          const dy = randn(T * C, T + 11 * C);
          const dres = randn(T * C, 66 + T);
          const shifted = Float32Array.from(w, (v) => v + 1);
          const a = await runRms(rt, x, w, dy, T, C, { offset: 1, dres });
          const b = await runRms(rt, x, shifted, dy, T, C, { offset: 0, dres });
          expect(a).toEqual(b);
        });

        it(`offset 0 gives the same bits as the call without the argument, T=${T} C=${C}`, async () => {
          const rt = gpu();
          const x = offsetRows(randn(T * C, T * 23 + C), C);
          const w = randn(C, C + 7, 1.5);
          const dy = randn(T * C, T + 13 * C);
          const dres = randn(T * C, 77 + T);
          for (const d of [undefined, dres]) {
            expect(await runRms(rt, x, w, dy, T, C, { offset: 0, dres: d })).toEqual(await runRms(rt, x, w, dy, T, C, { dres: d }));
          }
        });
      }
    },
    { serial: true },
  );

  describe('offset 0 gives the bits of the kernels from before the offset existed', () => {
    // A second device whose shader library strips "+ W_OFFSET" from the rmsnorm kernels: that is
    // the text of the kernels before the weight offset was added.
    let old: GpuRuntime | undefined;
    const lib = nodeShaderLibrary();
    const stripped: string[] = [];
    const legs = [
      { leg: 'subgroups', subgroups: true, serial: false },
      { leg: 'fallback', subgroups: false, serial: false },
      { leg: 'serial', subgroups: false, serial: true },
    ];
    for (const { leg, subgroups, serial } of legs) {
      for (const [T, C] of [
        [70, 200],
        [3, 7],
        [1, 1],
        [5, 16],
      ] as const) {
        it(`${leg} T=${T} C=${C}`, async (ctx) => {
          const rt = gpu();
          if (subgroups && !rt.device.features.has('subgroups')) ctx.skip("the device lacks 'subgroups'");
          old ??= await createRuntime(rt.instance, (file) => {
            const text = lib(file);
            if (!file.startsWith('rmsnorm_')) return text;
            const before = text.replaceAll('(w[c] + W_OFFSET)', 'w[c]');
            if (before !== text) stripped.push(file);
            return before;
          });
          const x = offsetRows(randn(T * C, T * 29 + C), C);
          const w = randn(C, C + 8, 1.5);
          const dy = randn(T * C, T + 15 * C);
          const dres = randn(T * C, 88 + T);
          const keep = rt.profile;
          try {
            for (const r of [rt, old]) r.setProfile({ subgroups, rows: serial ? 'serial' : 'workgroup' });
            const now = await runRms(rt, x, w, dy, T, C, { offset: 0, dres });
            const before = await runRms(old, x, w, dy, T, C, { dres });
            expect(now).toEqual(before);
          } finally {
            rt.setProfile(keep);
          }
          // The old kernels really were the stripped text (forward and backward of this leg).
          const suffix = serial ? '_serial.wgsl' : '.wgsl';
          expect(stripped).toContain(`rmsnorm_forward${suffix}`);
          expect(stripped).toContain(`rmsnorm_backward${suffix}`);
        });
      }
    }
    it('(releases the second device)', () => {
      old?.destroy();
      old = undefined;
    });
  });

  for (const [T, C] of [
    [1, 1],
    [2, 7],
    [3, 16],
    [2, 66],
  ] as const) {
    it(`offset 1: analytic backward matches finite differences T=${T} C=${C}`, () => {
      const x = toF64(offsetRows(randn(T * C, 25 + C), C));
      const w = gemmaWeights(C, 26);
      const up = randn(T * C, 27);
      const dres = randn(T * C, 28);
      const fd = finiteDiff(x, (xx) => dot(up, rmsnormFwdRef(xx, w, T, C, EPS, 1).y));
      expect(relErr(rmsnormBwdRef(x, w, up, T, C, EPS, undefined, 1), fd)).toBeLessThan(1e-6);
      const fd2 = finiteDiff(x, (xx) => dot(up, rmsnormFwdRef(xx, w, T, C, EPS, 1).y) + dot(dres, xx));
      expect(relErr(rmsnormBwdRef(x, w, up, T, C, EPS, dres, 1), fd2)).toBeLessThan(1e-6);
      // …and the offset-0 backward is not it (the check can tell the two apart).
      if (C > 1) expect(relErr(rmsnormBwdRef(x, w, up, T, C, EPS), fd)).toBeGreaterThan(1e-2);
    });
  }
});

describe('per-head q/k RMSNorm (Qwen3, Gemma 3): rows of one head, one weight [D]', () => {
  /** The reference written per head: q[t, h·D .. (h+1)·D] normalised on its own, scaled by w + offset. */
  function headNormRef(q: Float32Array | Float64Array, w: Float32Array, T: number, heads: number, D: number, offset: number) {
    const y = new Float64Array(q.length);
    const rstd = new Float64Array(T * heads);
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < heads; h++) {
        const at = t * heads * D + h * D;
        const r = rmsnormFwdRef(q.subarray(at, at + D), w, 1, D, EPS, offset);
        y.set(r.y, at);
        rstd[t * heads + h] = r.rstd[0]!;
      }
    }
    return { y, rstd };
  }

  // [T, heads, D]: one token; GQA-like k with one head; D = 16, 64 (a thread each), 128 (Qwen3,
  // two each), 256 (Gemma 3, four each); odd T·heads past 64 rows.
  const headShapes: [number, number, number][] = [
    [1, 1, 16],
    [3, 4, 16],
    [5, 1, 64],
    [3, 2, 128],
    [2, 3, 256],
    [13, 5, 16],
  ];
  describeReducePaths(
    gpu,
    () => {
      for (const [T, heads, D] of headShapes) {
        for (const offset of [0, 1]) {
          it(`T=${T} heads=${heads} D=${D} offset ${offset}: forward + backward`, async () => {
            const rt = gpu();
            const rows = T * heads;
            // Heads of different sizes, so a norm over the whole row would differ.
            const q = randn(rows * D, rows + D);
            for (let i = 0; i < q.length; i++) q[i]! *= 1 + (Math.floor(i / D) % heads);
            const w = offset ? gemmaWeights(D, D + 1) : randn(D, D + 1, 1.5);
            const dy = randn(rows * D, rows + 3 * D);
            const out = await runRms(rt, q, w, dy, rows, D, { offset });
            const ref = headNormRef(q, w, T, heads, D, offset);
            expect(relErr(out.y, ref.y)).toBeLessThan(1e-5);
            expect(relErr(out.rstd, ref.rstd)).toBeLessThan(1e-5);
            expect(relErr(out.dx, rmsnormBwdRef(q, w, dy, rows, D, EPS, undefined, offset))).toBeLessThan(1e-5);
            if (heads > 1) {
              // Not a norm over the full heads·D row with the weight tiled.
              const tiled = Float32Array.from({ length: heads * D }, (_, i) => w[i % D]!);
              expect(relErr(out.y, rmsnormFwdRef(q, tiled, T, heads * D, EPS, offset).y)).toBeGreaterThan(0.05);
            }
          });
        }
      }
    },
    { serial: true },
  );

  it('analytic backward of the per-head norm matches finite differences (offset 1)', () => {
    const [T, heads, D] = [2, 3, 4];
    const q = toF64(randn(T * heads * D, 31));
    const w = gemmaWeights(D, 32);
    const up = randn(T * heads * D, 33);
    const fd = finiteDiff(q, (qq) => dot(up, headNormRef(qq, w, T, heads, D, 1).y));
    expect(relErr(rmsnormBwdRef(q, w, up, T * heads, D, EPS, undefined, 1), fd)).toBeLessThan(1e-6);
  });
});

describe('serial norms (CPU adapters) equal the workgroup kernels bit for bit', () => {
  for (const [T, C] of [
    [70, 200],
    [3, 7],
    [1, 1],
    [12, 16],
  ] as const) {
    it(`rmsnorm with offset 1 T=${T} C=${C}`, async () => {
      const rt = gpu();
      const x = offsetRows(randn(T * C, 51 + C), C);
      const w = gemmaWeights(C, 52);
      const dy = randn(T * C, 53);
      const dres = randn(T * C, 54);
      const keep = rt.profile;
      try {
        rt.setProfile({ rows: 'workgroup' });
        const workgroup = await runRms(rt, x, w, dy, T, C, { offset: 1, dres });
        rt.setProfile({ rows: 'serial' });
        const serial = await runRms(rt, x, w, dy, T, C, { offset: 1, dres });
        expect(serial).toEqual(workgroup);
      } finally {
        rt.setProfile(keep);
      }
    });
  }

  // C = 200: lane partials of three and four terms; C = 7: idle lanes; T = 70: a second workgroup.
  for (const norm of ['rmsnorm', 'layernorm'] as const) {
    for (const [T, C] of [
      [70, 200],
      [3, 7],
      [1, 1],
    ] as const) {
      it(`${norm} T=${T} C=${C}`, async () => {
        const rt = gpu();
        const x = rt.tensor([T, C], 'x', offsetRows(randn(T * C, 41 + C), C));
        const w = rt.tensor([C], 'w', randn(C, 42, 1.5));
        const b = rt.tensor([C], 'b', randn(C, 45));
        const dy = rt.tensor([T, C], 'dy', randn(T * C, 43));
        const dres = rt.tensor([T, C], 'dres', randn(T * C, 44));
        const run = async (serial: boolean) => {
          rt.setProfile({ rows: serial ? 'serial' : 'workgroup' });
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
        const keep = rt.profile;
        try {
          expect(await run(true)).toEqual(await run(false));
        } finally {
          rt.setProfile(keep);
          rt.release(x, w, b, dy, dres);
        }
      });
    }
  }
});

describe('layernorm', () => {
  describeReducePaths(
    gpu,
    () => {
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
    },
    { serial: true },
  );

  for (const [T, C] of [
    [1, 2],
    [2, 7],
    [3, 70],
  ] as const) {
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
