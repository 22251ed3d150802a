import { describe, expect, it } from 'vitest';
import { crossEntropy, reduceSum } from '../../src/kernels/loss';
import type { GpuRuntime } from '../../src/gpu/runtime';
import type { Tensor } from '../../src/gpu/tensor';
import { checked, useGpu } from '../helpers/gpu';
import { finiteDiff, randn, relErr, rng } from '../helpers/ref';
import { crossEntropyRef, toF64 } from '../helpers/ref-ops';
import { describeReducePaths } from './reduce-paths';

const gpu = useGpu();

function targetsTensor(rt: GpuRuntime, targets: Int32Array): Tensor {
  const t = rt.tensor([targets.length], 'targets');
  rt.device.queue.writeBuffer(t.buffer, 0, targets);
  return t;
}

function makeTargets(T: number, V: number, seed: number, ignore: number[] = []): Int32Array {
  const r = rng(seed);
  const out = new Int32Array(T);
  for (let t = 0; t < T; t++) out[t] = Math.floor(r() * V);
  out[T - 1] = V - 1; // the last class
  if (T > 1) out[0] = 0;
  for (const t of ignore) out[t] = -100;
  return out;
}

function countOf(targets: Int32Array): number {
  return targets.filter((t) => t !== -100).length;
}

describe('crossEntropy', () => {
  describeReducePaths(gpu, () => {
    const shapes: [number, number, number[]][] = [
      [1, 1, []],
      [1, 67, []],
      [3, 5, [1]],
      [4, 67, [2]],
      [70, 13, [3, 40, 69]],
      [2, 300, []],
      [5, 64, [0]],
    ];
    for (const [T, V, ignore] of shapes) {
      for (const writeGrad of [false, true]) {
        it(`T=${T} V=${V} ignored=${ignore.length}${writeGrad ? ' with gradient' : ''}`, async () => {
          const rt = gpu();
          const logits = randn(T * V, T * V + 1, 4);
          const targets = makeTargets(T, V, T + V, ignore);
          const invCount = 1 / Math.max(1, countOf(targets));
          const tl = rt.tensor([T, V], 'logits', logits);
          const tt = targetsTensor(rt, targets);
          const tloss = rt.tensor([T], 'losses', new Float32Array(T).fill(Number.NaN));
          await checked(rt, () => crossEntropy(rt, { logits: tl, targets: tt, losses: tloss, T, V, invCount, writeGrad }));
          const ref = crossEntropyRef(logits, targets, T, V, invCount);
          const losses = await rt.read(tloss);
          // V = 1: every loss is 0 (log 1) — compare absolutely.
          expect(relErr(losses, ref.losses, 1)).toBeLessThan(1e-5);
          for (const t of ignore) expect(losses[t]).toBe(0);
          const after = await rt.read(tl);
          if (writeGrad) {
            expect(relErr(after, ref.grad, 1e-3)).toBeLessThan(1e-5);
            for (const t of ignore) for (let c = 0; c < V; c++) expect(after[t * V + c]).toBe(0);
          } else {
            expect(Array.from(after)).toEqual(Array.from(logits));
          }
          rt.release(tl, tt, tloss);
        });
      }
    }

    it('is stable for large logits (±1e3)', async () => {
      const rt = gpu();
      const [T, V] = [3, 70];
      const logits = randn(T * V, 8, 30);
      for (let t = 0; t < T; t++) logits[t * V + ((t * 17) % V)] = t === 2 ? -1000 : 1000;
      logits[V + 5] = 999; // a close second in row 1
      const targets = new Int32Array([0, 5, 69]);
      const tl = rt.tensor([T, V], 'logits', logits);
      const tt = targetsTensor(rt, targets);
      const tloss = rt.tensor([T], 'losses');
      await checked(rt, () => crossEntropy(rt, { logits: tl, targets: tt, losses: tloss, T, V, invCount: 1 / 3, writeGrad: true }));
      const ref = crossEntropyRef(logits, targets, T, V, 1 / 3);
      const losses = await rt.read(tloss);
      const grad = await rt.read(tl);
      expect(losses.every(Number.isFinite) && grad.every(Number.isFinite)).toBe(true);
      // Losses up to ~2000: still 1e-6 relative.
      expect(relErr(losses, ref.losses)).toBeLessThan(1e-6);
      // Softmax is exp(logit − max)/Σ, never exp(logit − lse): lse ≈ 1000 would round in f32.
      expect(relErr(grad, ref.grad)).toBeLessThan(1e-5);
      expect(Math.abs(grad[V + 5]! - ref.grad[V + 5]!)).toBeLessThan(1e-5);
    });
  });

  it('gradient is (softmax − onehot)·invCount: finite differences of the mean loss', () => {
    const [T, V] = [4, 9];
    const logits = toF64(randn(T * V, 3, 3));
    const targets = new Int32Array([2, -100, 8, 0]);
    const inv = 1 / 3;
    const mean = (x: Float64Array) => crossEntropyRef(x, targets, T, V, inv).losses.reduce((a, b) => a + b, 0) * inv;
    expect(relErr(crossEntropyRef(logits, targets, T, V, inv).grad, finiteDiff(logits, mean))).toBeLessThan(1e-6);
  });
});

describe('reduceSum', () => {
  for (const [n, scale, slot] of [
    [1, 1, 0],
    [1, 2, 3],
    [255, 1, 0],
    [257, 0.5, 1],
    [1000, 1 / 1000, 2],
    [3001, -1, 0],
  ] as const) {
    it(`n=${n} scale=${scale} slot=${slot}`, async () => {
      const rt = gpu();
      const x = randn(n, n + 5);
      const tx = rt.tensor([n], 'x', x);
      const out0 = new Float32Array([11, 12, 13, 14]);
      const to = rt.tensor([4], 'out', out0);
      await checked(rt, () => reduceSum(rt, tx, to, n, scale, slot));
      const out = await rt.read(to);
      let s = 0;
      for (let i = 0; i < n; i++) s += x[i]!;
      const expected = Float64Array.from(out0);
      expected[slot] = s * scale;
      expect(relErr(out, expected)).toBeLessThan(1e-5);
      expect(Math.abs(out[slot]! - s * scale)).toBeLessThan(1e-5 * Math.max(1, Math.abs(s * scale)));
      rt.release(tx, to);
    });
  }

  it('sums only the first n elements', async () => {
    const rt = gpu();
    const x = randn(600, 9);
    const tx = rt.tensor([600], 'x', x);
    const to = rt.tensor([1], 'out');
    await checked(rt, () => reduceSum(rt, tx, to, 300));
    let s = 0;
    for (let i = 0; i < 300; i++) s += x[i]!;
    expect((await rt.read(to))[0]).toBeCloseTo(s, 4);
    rt.release(tx, to);
  });
});
