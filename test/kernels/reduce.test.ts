import { describe, expect, it } from 'vitest';
import { rowSumSquares } from '../../src/kernels/adapter-ops';
import { crossEntropy } from '../../src/kernels/loss';
import { checked, useGpu } from '../helpers/gpu';
import { randn } from '../helpers/ref';
import { describeReducePaths } from './reduce-paths';

const gpu = useGpu();

// Row lengths below, at and above the 64 threads, around multiples of every subgroup size a
// device may have (4..128): the last subgroup's share of a row is then partly empty, and threads
// past the end contribute only the neutral value.
const LENGTHS = [1, 2, 3, 4, 5, 7, 8, 9, 15, 17, 31, 33, 63, 64, 65, 127, 129];

it("SwiftShader offers 'subgroups', so the subgroup path is tested on this machine", () => {
  const rt = gpu();
  if (/swiftshader/i.test(rt.info.description)) expect(rt.device.features.has('subgroups')).toBe(true);
});

describe('row reductions (common_reduce)', () => {
  describeReducePaths(gpu, () => {
    it('reduceSum counts every element exactly once (rowSumSquares of small integers)', async () => {
      const rt = gpu();
      for (const n of LENGTHS) {
        const rows = 3;
        // Integers 1..7 and a large last element: f32 sums them exactly in any order, so one
        // element or one subgroup's part lost or counted twice changes the result.
        const w = new Float32Array(rows * n);
        for (let i = 0; i < rows; i++) for (let j = 0; j < n; j++) w[i * n + j] = j === n - 1 ? 64 + i : ((i * 5 + j) % 7) + 1;
        const expected = new Float32Array(rows);
        for (let i = 0; i < rows; i++) for (let j = 0; j < n; j++) expected[i]! += w[i * n + j]! ** 2;
        const tw = rt.tensor([rows, n], 'W', w);
        const tsq = rt.tensor([rows], 'rowSquares');
        await checked(rt, () => rowSumSquares(rt, tw, tsq, rows, n, false));
        expect({ n, sums: Array.from(await rt.read(tsq)) }).toEqual({ n, sums: Array.from(expected) });
        rt.release(tw, tsq);
      }
    });

    it('reduceMax finds the peak at every position, for rows of large negative logits', async () => {
      const rt = gpu();
      for (const n of LENGTHS) {
        // Row t is −500 ± noise with −300 at column t, its target. A missed peak overflows
        // exp(l − max) (loss ∞); a wrong neutral 0 as max underflows Σ exp to 0 (loss −∞).
        const logits = randn(n * n, n).map((v) => v - 500);
        for (let t = 0; t < n; t++) logits[t * n + t] = -300;
        const targets = Int32Array.from({ length: n }, (_, t) => t);
        const tl = rt.tensor([n, n], 'logits', logits);
        const tt = rt.intTensor(targets, 'targets');
        const tloss = rt.tensor([n], 'losses', new Float32Array(n).fill(Number.NaN));
        await checked(rt, () =>
          crossEntropy(rt, { logits: tl, targets: tt, losses: tloss, T: n, V: n, invCount: 1 / n, writeGrad: false }),
        );
        const losses = Array.from(await rt.read(tloss));
        // loss = log(1 + Σ exp(−200 ± noise)), 0 in f32.
        expect({ n, losses }).toEqual({ n, losses: new Array(n).fill(0) });
        rt.release(tl, tt, tloss);
      }
    });
  });
});
