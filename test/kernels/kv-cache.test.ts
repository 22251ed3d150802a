import { describe, expect, it } from 'vitest';
import { cachedAttention, kvCacheWrite } from '../../src/kernels/kv-cache';
import { checked, useGpu } from '../helpers/gpu';
import { randn, relErr } from '../helpers/ref';
import { attentionFwdRef } from '../helpers/ref-ops';

const gpu = useGpu();

describe('kvCacheWrite', () => {
  it('appends strided rows (GPT-2: k inside c_attn) at a position', async () => {
    const rt = gpu();
    const [n, width, ld, off, pos0, capacity] = [3, 5, 17, 6, 4, 9];
    const src = randn(n * ld, 1);
    const tsrc = rt.tensor([n, ld], 'src', src);
    const cache = rt.tensor([capacity, width], 'cache', new Float32Array(capacity * width).fill(-1));
    await checked(rt, () => kvCacheWrite(rt, tsrc, cache, n, width, pos0, ld, off));
    const got = await rt.read(cache);
    for (let p = 0; p < capacity; p++) {
      for (let c = 0; c < width; c++) {
        const t = p - pos0;
        const want = t >= 0 && t < n ? src[t * ld + off + c] : -1;
        expect(got[p * width + c], `row ${p} col ${c}`).toBe(want);
      }
    }
    rt.release(tsrc, cache);
  });
});

/**
 * The last n rows of causal attention over S positions, computed from a cache of the first S
 * keys and values, must equal rows S − n … S − 1 of the whole-sequence reference.
 */
describe('cachedAttention', () => {
  const cases = [
    // [S, n, H, KVH, D, window, scale]
    [1, 1, 2, 1, 8, 0, undefined],
    [7, 1, 4, 2, 6, 0, undefined],
    [7, 3, 4, 4, 5, 0, undefined],
    [130, 1, 3, 1, 16, 0, 24 ** -0.5],
    [130, 130, 2, 1, 16, 5, undefined],
    [70, 2, 2, 2, 4, 3, undefined],
    [9, 9, 1, 1, 3, 1, undefined],
  ] as const;
  for (const [S, n, H, KVH, D, window, scale] of cases) {
    it(`S=${S} n=${n} H=${H} KVH=${KVH} D=${D} window=${window}${scale ? ' scale' : ''}`, async () => {
      const rt = gpu();
      const q = randn(S * H * D, S + H);
      const k = randn(S * KVH * D, S + 7);
      const v = randn(S * KVH * D, S + 11);
      const ref = attentionFwdRef(q, k, v, {
        B: 1,
        S,
        H,
        KVH,
        D,
        ldq: H * D,
        ldk: KVH * D,
        ldv: KVH * D,
        qOff: 0,
        kOff: 0,
        vOff: 0,
        scale,
        window,
      });
      const pos0 = S - n;
      const tq = rt.tensor([n, H * D], 'q', q.slice(pos0 * H * D));
      const tk = rt.tensor([S, KVH * D], 'k', k);
      const tv = rt.tensor([S, KVH * D], 'v', v);
      const to = rt.tensor([n, H * D], 'o');
      const scratch = rt.tensor([H, n, S], 'scratch');
      await checked(rt, () =>
        cachedAttention(
          rt,
          {
            n,
            pos0,
            heads: H,
            kvHeads: KVH,
            headDim: D,
            ldq: H * D,
            qOffset: 0,
            scale: scale ?? 1 / Math.sqrt(D),
            window,
          },
          tq,
          tk,
          tv,
          to,
          scratch,
        ),
      );
      expect(relErr(await rt.read(to), ref.o.slice(pos0 * H * D))).toBeLessThan(1e-5);
      rt.release(tq, tk, tv, to, scratch);
    });
  }
});
