import { describe, expect, it } from 'vitest';
import { embeddingForward } from '../../src/kernels/embedding';
import { checked, useGpu } from '../helpers/gpu';
import { randn, relErr, rng } from '../helpers/ref';
import { embeddingRef } from '../helpers/ref-ops';

const gpu = useGpu();

describe('embeddingForward', () => {
  // T·C not a multiple of 256, C not a multiple of 4, one token, several sequences (t mod S).
  const cases: [number, number, number, number][] = [
    // [T, C, S, V]
    [1, 1, 1, 3], [1, 37, 1, 50], [70, 37, 16, 50], [9, 300, 3, 11], [64, 4, 64, 1000],
  ];
  for (const [T, C, S, V] of cases) {
    for (const pos of [false, true]) {
      it(`T=${T} C=${C} S=${S} V=${V}${pos ? ' + learned positions' : ''}`, async () => {
        const rt = gpu();
        const r = rng(T + C + V);
        const ids = new Uint32Array(T);
        for (let t = 0; t < T; t++) ids[t] = Math.floor(r() * V);
        // Ids near the end of the vocabulary.
        ids[T - 1] = V - 1;
        if (T > 2) ids[1] = V - 2;
        const table = randn(V * C, V + C);
        const positions = randn(S * C, S + C + 1);
        const tids = rt.tensor([T], 'ids');
        rt.device.queue.writeBuffer(tids.buffer, 0, ids);
        const ttable = rt.tensor([V, C], 'table', table);
        const tpos = rt.tensor([S, C], 'positions', positions);
        const tout = rt.tensor([T, C], 'out');
        await checked(rt, () => embeddingForward(rt, tids, ttable, tout, T, C, S, { positions: pos ? tpos : undefined }));
        const ref = embeddingRef(ids, table, T, C, S, pos ? positions : undefined);
        expect(relErr(await rt.read(tout), ref)).toBeLessThan(1e-6);
        rt.release(tids, ttable, tpos, tout);
      });
    }
  }

  it('rows of a token repeat; positions repeat every S rows', async () => {
    const rt = gpu();
    const [T, C, S, V] = [12, 5, 4, 7];
    const ids = new Uint32Array(T).fill(V - 1);
    const table = randn(V * C, 1);
    const positions = randn(S * C, 2);
    const tids = rt.tensor([T], 'ids');
    rt.device.queue.writeBuffer(tids.buffer, 0, ids);
    const ttable = rt.tensor([V, C], 'table', table);
    const tpos = rt.tensor([S, C], 'positions', positions);
    const tout = rt.tensor([T, C], 'out');
    await checked(rt, () => embeddingForward(rt, tids, ttable, tout, T, C, S, { positions: tpos }));
    const out = await rt.read(tout);
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < C; c++) {
        expect(out[t * C + c]).toBe(out[(t % S) * C + c]);
        expect(out[t * C + c]).toBeCloseTo(table[(V - 1) * C + c] + positions[(t % S) * C + c], 6);
      }
    }
    rt.release(tids, ttable, tpos, tout);
  });
});
