import { describe, expect, it } from 'vitest';
import { embeddingForward } from '../../src/kernels/embedding';
import type { Tensor } from '../../src/gpu/tensor';
import { checked, useGpu } from '../helpers/gpu';
import { randn, relErr, rng } from '../helpers/ref';
import { embeddingRef } from '../helpers/ref-ops';

const gpu = useGpu();

describe('embeddingForward', () => {
  // T·C not a multiple of 256, C not a multiple of 4, one token, several sequences (t mod S).
  const cases: [number, number, number, number][] = [
    // [T, C, S, V]
    [1, 1, 1, 3],
    [1, 37, 1, 50],
    [70, 37, 16, 50],
    [9, 300, 3, 11],
    [64, 4, 64, 1000],
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

  // A table split into blocks of rows (one buffer each): every block's dispatch writes the tokens
  // whose ids it holds, together the whole gather; blocks of 1 row and sizes not dividing V.
  const splits: [number, number, number, number, number][] = [
    // [T, C, S, V, rows a block]
    [1, 37, 1, 50, 7],
    [70, 37, 16, 50, 1],
    [70, 37, 16, 50, 13],
    [9, 300, 3, 11, 4],
  ];
  for (const [T, C, S, V, rows] of splits) {
    for (const pos of [false, true]) {
      it(`split table: T=${T} C=${C} V=${V} in blocks of ${rows} rows${pos ? ' + learned positions' : ''}`, async () => {
        const rt = gpu();
        const r = rng(T + C + V + rows);
        const ids = new Uint32Array(T);
        for (let t = 0; t < T; t++) ids[t] = Math.floor(r() * V);
        ids[T - 1] = V - 1;
        const table = randn(V * C, V + C + rows);
        const positions = randn(S * C, S + C + 2);
        const tids = rt.tensor([T], 'ids');
        rt.device.queue.writeBuffer(tids.buffer, 0, ids);
        const tpos = rt.tensor([S, C], 'positions', positions);
        const tout = rt.tensor([T, C], 'out');
        rt.device.queue.writeBuffer(tout.buffer, 0, new Float32Array(T * C).fill(Number.NaN));
        const blocks: { row0: number; n: number; t: Tensor }[] = [];
        for (let row0 = 0; row0 < V; row0 += rows) {
          const n = Math.min(rows, V - row0);
          blocks.push({ row0, n, t: rt.tensor([n, C], 'block', table.subarray(row0 * C, (row0 + n) * C)) });
        }
        await checked(rt, () => {
          for (const b of blocks) {
            embeddingForward(rt, tids, b.t, tout, T, C, S, { positions: pos ? tpos : undefined, row0: b.row0, tableRows: b.n, scale: 0.5 });
          }
        });
        const ref = embeddingRef(ids, table, T, C, S, pos ? positions : undefined, 0.5);
        expect(relErr(await rt.read(tout), ref)).toBeLessThan(1e-6);
        rt.release(tids, tpos, tout, ...blocks.map((b) => b.t));
      });
    }
  }

  // Gemma scales the token embedding by √hidden (√640 for Gemma 3 270M); GPT-2 with a KV cache
  // starts its learned positions at pos0.
  const scaled: { T: number; C: number; S: number; V: number; scale: number; pos0: number; pos: boolean }[] = [
    { T: 1, C: 1, S: 1, V: 3, scale: Math.sqrt(640), pos0: 0, pos: false },
    { T: 70, C: 37, S: 16, V: 50, scale: Math.sqrt(640), pos0: 0, pos: false },
    { T: 9, C: 300, S: 3, V: 11, scale: Math.sqrt(640), pos0: 0, pos: true },
    // One generated token after a cached prefix of 5, and a chunk of 7 after 12.
    { T: 1, C: 37, S: 1, V: 50, scale: 1, pos0: 5, pos: true },
    { T: 7, C: 300, S: 7, V: 11, scale: 1, pos0: 12, pos: true },
    // Two sequences of 4 after 3 cached positions, with a scale; pos0 without positions is unused.
    { T: 8, C: 5, S: 4, V: 7, scale: 0.37, pos0: 3, pos: true },
    { T: 8, C: 5, S: 4, V: 7, scale: Math.sqrt(640), pos0: 3, pos: false },
  ];
  for (const { T, C, S, V, scale, pos0, pos } of scaled) {
    it(`T=${T} C=${C} S=${S} V=${V} scale=${scale.toPrecision(5)} pos0=${pos0}${pos ? ' + learned positions' : ''}`, async () => {
      const rt = gpu();
      const r = rng(T * 3 + C + V);
      const ids = new Uint32Array(T);
      for (let t = 0; t < T; t++) ids[t] = Math.floor(r() * V);
      ids[T - 1] = V - 1;
      const table = randn(V * C, V + C + 2);
      // Exactly the rows the call may read: positions pos0 .. pos0 + S − 1 (the last one is used).
      const P = pos0 + S;
      const positions = randn(P * C, S + C + 3);
      const tids = rt.intTensor(ids, 'ids');
      const ttable = rt.tensor([V, C], 'table', table);
      const tpos = rt.tensor([P, C], 'positions', positions);
      const tout = rt.tensor([T, C], 'out', new Float32Array(T * C).fill(Number.NaN));
      await checked(rt, () => embeddingForward(rt, tids, ttable, tout, T, C, S, { positions: pos ? tpos : undefined, scale, pos0 }));
      const out = await rt.read(tout);
      const ref = embeddingRef(ids, table, T, C, S, pos ? positions : undefined, scale, pos0);
      expect(relErr(out, ref)).toBeLessThan(1e-6);
      // The scale multiplies the token row only; positions come from pos0 on.
      if (scale !== 1) expect(relErr(out, embeddingRef(ids, table, T, C, S, pos ? positions : undefined))).toBeGreaterThan(0.1);
      if (pos && pos0 > 0) expect(relErr(out, embeddingRef(ids, table, T, C, S, positions, scale))).toBeGreaterThan(0.1);
      if (pos && scale !== 1) {
        const bothScaled = embeddingRef(
          ids,
          table,
          T,
          C,
          S,
          positions.map((v) => v * scale),
          scale,
          pos0,
        );
        expect(relErr(out, bothScaled)).toBeGreaterThan(0.1);
      }
      rt.release(tids, ttable, tpos, tout);
    });
  }

  it('scale 1 and pos0 0 spelled out give the bits of the defaults', async () => {
    const rt = gpu();
    const [T, C, S, V] = [70, 37, 16, 50];
    const ids = Uint32Array.from({ length: T }, (_, t) => (t * 13) % V);
    const tids = rt.intTensor(ids, 'ids');
    const ttable = rt.tensor([V, C], 'table', randn(V * C, 4));
    const tpos = rt.tensor([S, C], 'positions', randn(S * C, 5));
    const a = rt.tensor([T, C], 'a');
    const b = rt.tensor([T, C], 'b');
    await checked(rt, () => {
      embeddingForward(rt, tids, ttable, a, T, C, S, { positions: tpos });
      embeddingForward(rt, tids, ttable, b, T, C, S, { positions: tpos, scale: 1, pos0: 0 });
    });
    expect(await rt.read(b)).toEqual(await rt.read(a));
    rt.release(tids, ttable, tpos, a, b);
  });

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
        expect(out[t * C + c]).toBeCloseTo(table[(V - 1) * C + c]! + positions[(t % S) * C + c]!, 6);
      }
    }
    rt.release(tids, ttable, tpos, tout);
  });
});
