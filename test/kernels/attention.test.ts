import { describe, expect, it } from 'vitest';
import { type AttentionLayout, attentionBackward, attentionForward } from '../../src/kernels/attention';
import type { Tensor } from '../../src/gpu/tensor';
import { checked, useGpu } from '../helpers/gpu';
import { dot, finiteDiff, randn, relErr } from '../helpers/ref';
import { type AttnLayoutRef, attentionBwdRef, attentionFwdRef, toF64 } from '../helpers/ref-ops';
import { describeReducePaths } from './reduce-paths';

const gpu = useGpu();

const SENTINEL = 7.25;

interface Case {
  name: string;
  B: number;
  S: number;
  H: number;
  KVH: number;
  D: number;
  /** Extra columns on each side of q/k/v inside their buffers (a slice of a wider buffer). */
  pad?: [number, number];
  /** Sliding window (query i sees keys j with i − j < window); 0 or absent: full causal. */
  window?: number;
  /** Score scale; 1/√D when absent. */
  scale?: number;
}

const cases: Case[] = [
  { name: 'MHA', B: 1, S: 5, H: 2, KVH: 2, D: 4 },
  { name: 'GQA H=4 KVH=2, B=2', B: 2, S: 7, H: 4, KVH: 2, D: 3 },
  { name: 'MQA, one token', B: 1, S: 1, H: 3, KVH: 1, D: 2 },
  { name: 'S=70 > 64 threads', B: 1, S: 70, H: 2, KVH: 1, D: 5 },
  { name: 'D=2, B=2', B: 2, S: 9, H: 2, KVH: 2, D: 2 },
  { name: 'D=7 odd, GQA 6/3', B: 1, S: 11, H: 6, KVH: 3, D: 7 },
  { name: 'D=66 > 64 threads', B: 1, S: 3, H: 1, KVH: 1, D: 66 },
  { name: 'q/k/v in wider buffers at offsets', B: 2, S: 6, H: 4, KVH: 2, D: 3, pad: [2, 3] },
];

function layoutOf(c: Case): { gpu: AttentionLayout; ref: AttnLayoutRef } {
  const [lo, hi] = c.pad ?? [0, 0];
  const ldq = lo + c.H * c.D + hi;
  const ldkv = lo + c.KVH * c.D + hi;
  // Absent fields stay absent (the kernels' defaults are under test too).
  const extra = { ...(c.window !== undefined && { window: c.window }), ...(c.scale !== undefined && { scale: c.scale }) };
  return {
    gpu: {
      B: c.B,
      S: c.S,
      heads: c.H,
      kvHeads: c.KVH,
      headDim: c.D,
      ldq,
      ldk: ldkv,
      ldv: ldkv,
      qOffset: lo,
      kOffset: lo,
      vOffset: lo,
      ...extra,
    },
    ref: { B: c.B, S: c.S, H: c.H, KVH: c.KVH, D: c.D, ldq, ldk: ldkv, ldv: ldkv, qOff: lo, kOff: lo, vOff: lo, ...extra },
  };
}

const caseName = (c: Case) =>
  `${c.name} (B=${c.B} S=${c.S} H=${c.H} KVH=${c.KVH} D=${c.D}${c.window !== undefined ? ` window=${c.window}` : ''}` +
  `${c.scale !== undefined ? ` scale=${c.scale.toPrecision(4)}` : ''})`;

/** The first key query i sees (the definition, written here again for the checks). */
const firstKey = (i: number, window = 0) => (window > 0 && i >= window ? i - window + 1 : 0);

/** Lower-triangular (j ≤ i) entries of [B, H, S, S], the part of P and dS a kernel fills. */
function causal(p: ArrayLike<number>, B: number, H: number, S: number): Float64Array {
  const out: number[] = [];
  for (let bh = 0; bh < B * H; bh++) for (let i = 0; i < S; i++) for (let j = 0; j <= i; j++) out.push(p[(bh * S + i) * S + j]!);
  return Float64Array.from(out);
}

/** ref where (row, column) belongs to the layout's slice, the sentinel elsewhere. */
function withSentinel(ref: Float64Array, ld: number, off: number, width: number): Float64Array {
  const out = Float64Array.from(ref);
  for (let i = 0; i < out.length; i++) {
    const col = i % ld;
    if (col < off || col >= off + width) out[i] = SENTINEL;
  }
  return out;
}

function filled(rt: ReturnType<typeof gpu>, n: number, label: string): Tensor {
  return rt.tensor([n], label, new Float32Array(n).fill(SENTINEL));
}

/**
 * Forward and backward on the runtime's current leg against the float64 references; returns
 * what the kernels wrote.
 */
async function forwardBackward(c: Case): Promise<{
  o: Float32Array;
  p: Float32Array;
  ds: Float32Array;
  dq: Float32Array;
  dk: Float32Array;
  dv: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
}> {
  const rt = gpu();
  const { B, S, H, KVH, D } = c;
  const L = layoutOf(c);
  const rows = B * S;
  const q = randn(rows * L.ref.ldq, S * 3 + D, 1.5);
  const k = randn(rows * L.ref.ldk, S * 5 + D, 1.5);
  const v = randn(rows * L.ref.ldv, S * 7 + D);
  const dout = randn(rows * H * D, S * 11 + D);
  const tq = rt.tensor([q.length], 'q', q);
  const tk = rt.tensor([k.length], 'k', k);
  const tv = rt.tensor([v.length], 'v', v);
  const to = rt.tensor([rows, H * D], 'o');
  // Sentinels above the diagonal too, so that whole outputs can be compared bit for bit.
  const tp = filled(rt, B * H * S * S, 'p');
  const tdo = rt.tensor([rows, H * D], 'dout', dout);
  const tds = filled(rt, B * H * S * S, 'ds');
  const tdq = filled(rt, q.length, 'dq');
  const tdk = filled(rt, k.length, 'dk');
  const tdv = filled(rt, v.length, 'dv');
  await checked(rt, () => {
    attentionForward(rt, L.gpu, tq, tk, tv, to, tp);
    attentionBackward(rt, L.gpu, tq, tk, tv, tp, tdo, { dq: tdq, dk: tdk, dv: tdv, ds: tds });
  });
  const fwd = attentionFwdRef(q, k, v, L.ref);
  expect(relErr(await rt.read(to), fwd.o)).toBeLessThan(1e-5);
  const p = await rt.read(tp);
  expect(relErr(causal(p, B, H, S), causal(fwd.p, B, H, S))).toBeLessThan(1e-5);
  // Each probability row sums to one.
  for (let r = 0; r < B * H * S; r++) {
    const i = r % S;
    let s = 0;
    for (let j = 0; j <= i; j++) s += p[r * S + j]!;
    expect(Math.abs(s - 1)).toBeLessThan(1e-5);
  }
  // Before the window P is exactly 0 (the backward kernels rely on it: dS = P·(…)), and so is dS.
  const ds = await rt.read(tds);
  let leaks = 0;
  for (let r = 0; r < B * H * S; r++) {
    const i = r % S;
    for (let j = 0; j < firstKey(i, c.window); j++) if (p[r * S + j] !== 0 || ds[r * S + j] !== 0) leaks++;
  }
  expect(leaks).toBe(0);
  const bwd = attentionBwdRef(q, k, v, dout, L.ref);
  const [lo] = c.pad ?? [0, 0];
  expect(relErr(await rt.read(tdq), withSentinel(bwd.dq, L.ref.ldq, lo, H * D))).toBeLessThan(1e-5);
  expect(relErr(await rt.read(tdk), withSentinel(bwd.dk, L.ref.ldk, lo, KVH * D))).toBeLessThan(1e-5);
  expect(relErr(await rt.read(tdv), withSentinel(bwd.dv, L.ref.ldv, lo, KVH * D))).toBeLessThan(1e-5);
  const out = {
    o: await rt.read(to),
    p,
    ds,
    dq: await rt.read(tdq),
    dk: await rt.read(tdk),
    dv: await rt.read(tdv),
    q,
    k,
    v,
  };
  rt.release(tq, tk, tv, to, tp, tdo, tds, tdq, tdk, tdv);
  return out;
}

/** Sliding windows (Gemma 2/3, Mistral) and explicit scales (Gemma's query_pre_attn_scalar). */
const windowCases: Case[] = [
  // 1: each query sees itself only; 2, 3, 5 < S; 7 = S and 10 > S are full causal attention.
  ...[1, 2, 3, 5, 7, 10].map((window) => ({ name: 'GQA H=4 KVH=2, B=2', B: 2, S: 7, H: 4, KVH: 2, D: 3, window })),
  ...[1, 2].map((window) => ({ name: 'MQA, one token', B: 1, S: 1, H: 3, KVH: 1, D: 2, window })),
  // S = 130 > 64 threads: the first key lands in either lane chunk; 64, 65 straddle the threads.
  ...[1, 3, 5, 64, 65, 130].map((window) => ({ name: 'S=130, MQA', B: 1, S: 130, H: 2, KVH: 1, D: 5, window })),
  { name: 'S=130, MQA, B=2', B: 2, S: 130, H: 3, KVH: 1, D: 4, window: 2 },
  { name: 'D=66 > 64 threads', B: 1, S: 5, H: 1, KVH: 1, D: 66, window: 2 },
  { name: 'q/k/v in wider buffers at offsets', B: 2, S: 6, H: 4, KVH: 2, D: 3, pad: [2, 3], window: 3 },
  { name: 'Gemma scale, GQA, B=2', B: 2, S: 9, H: 4, KVH: 2, D: 16, scale: 24 ** -0.5 },
  { name: 'Gemma scale, GQA, B=2', B: 2, S: 9, H: 4, KVH: 2, D: 16, scale: 24 ** -0.5, window: 3 },
  { name: 'Gemma scale, MQA, one token', B: 1, S: 1, H: 2, KVH: 1, D: 16, scale: 24 ** -0.5, window: 1 },
];

describe('attention', () => {
  describeReducePaths(
    gpu,
    () => {
      for (const c of cases) {
        it(`forward + backward: ${caseName(c)}`, async () => {
          await forwardBackward(c);
        });
      }

      for (const c of windowCases) {
        it(`forward + backward: ${caseName(c)}`, async () => {
          const out = await forwardBackward(c);
          // The window and the scale change the result (the reference comparison can tell); with
          // one token neither can (a softmax of one score is 1).
          const narrows = c.window !== undefined && c.window > 0 && c.window < c.S;
          if (c.S > 1 && (narrows || c.scale !== undefined)) {
            const plain = layoutOf({ ...c, window: undefined, scale: undefined }).ref;
            expect(relErr(out.o, attentionFwdRef(out.q, out.k, out.v, plain).o)).toBeGreaterThan(1e-2);
          }
        });
      }

      it('a window of at least S gives the bits of full causal attention', async () => {
        const c: Case = { name: 'full', B: 2, S: 70, H: 4, KVH: 2, D: 3 };
        const full = await forwardBackward(c);
        for (const window of [0, 70, 71, 1000]) expect(await forwardBackward({ ...c, window }), `window ${window}`).toEqual(full);
        // …and a window of S − 1 does not.
        expect(await forwardBackward({ ...c, window: 69 })).not.toEqual(full);
      });

      for (const [H, KVH] of [
        [2, 2],
        [4, 2],
        [3, 1],
      ] as const) {
        it(`GPT-2 fused layout: one qkv buffer [B·S, 3·H·D] and one dqkv (H=${H} KVH=${KVH})`, async () => {
          const rt = gpu();
          const [B, S, D] = [2, 6, 3];
          const HD = H * D;
          const kvd = KVH * D;
          // Columns: q (H·D) | k (KVH·D) | v (KVH·D), as GPT-2's c_attn when KVH = H.
          const ld = HD + 2 * kvd;
          const layout: AttentionLayout = {
            B,
            S,
            heads: H,
            kvHeads: KVH,
            headDim: D,
            ldq: ld,
            ldk: ld,
            ldv: ld,
            qOffset: 0,
            kOffset: HD,
            vOffset: HD + kvd,
          };
          const ref: AttnLayoutRef = { B, S, H, KVH, D, ldq: ld, ldk: ld, ldv: ld, qOff: 0, kOff: HD, vOff: HD + kvd };
          const qkv = randn(B * S * ld, H * 13 + KVH, 1.5);
          const dout = randn(B * S * HD, 21);
          const tqkv = rt.tensor([B * S, ld], 'qkv', qkv);
          const to = rt.tensor([B * S, HD], 'o');
          const tp = rt.tensor([B, H, S, S], 'p');
          const tdo = rt.tensor([B * S, HD], 'dout', dout);
          const tds = rt.tensor([B, H, S, S], 'ds');
          const tdqkv = filled(rt, B * S * ld, 'dqkv');
          await checked(rt, () => {
            attentionForward(rt, layout, tqkv, tqkv, tqkv, to, tp);
            attentionBackward(rt, layout, tqkv, tqkv, tqkv, tp, tdo, { dq: tdqkv, dk: tdqkv, dv: tdqkv, ds: tds });
          });
          const fwd = attentionFwdRef(qkv, qkv, qkv, ref);
          expect(relErr(await rt.read(to), fwd.o)).toBeLessThan(1e-5);
          expect(relErr(causal(await rt.read(tp), B, H, S), causal(fwd.p, B, H, S))).toBeLessThan(1e-5);
          const bwd = attentionBwdRef(qkv, qkv, qkv, dout, ref);
          const expected = new Float64Array(qkv.length);
          for (let i = 0; i < expected.length; i++) expected[i] = bwd.dq[i]! + bwd.dk[i]! + bwd.dv[i]!;
          // Every column of dqkv is written (no sentinel survives).
          expect(relErr(await rt.read(tdqkv), expected)).toBeLessThan(1e-5);
          rt.release(tqkv, to, tp, tdo, tds, tdqkv);
        });
      }
    },
    { serial: true },
  );

  describe('serial kernels (CPU adapters) equal the workgroup kernels bit for bit', () => {
    // S = 130: lane partials of two and three terms, and a last query block of two rows; D = 66:
    // a last d-chunk of two; GQA with two batches; q/k/v at offsets in wider buffers.
    const shapes: Case[] = [
      { name: 'S=130 GQA 4/2, B=2', B: 2, S: 130, H: 4, KVH: 2, D: 8 },
      { name: 'D=66, odd S', B: 1, S: 9, H: 2, KVH: 1, D: 66 },
      { name: 'one token, MQA', B: 3, S: 1, H: 3, KVH: 1, D: 5 },
      { name: 'offsets', B: 2, S: 7, H: 4, KVH: 2, D: 3, pad: [2, 3] },
      // Sliding windows: the first key in the first or second lane chunk, in the middle of a
      // serial block of four keys or at its start; and an explicit scale.
      { name: 'S=130 GQA 4/2, B=2, window 5', B: 2, S: 130, H: 4, KVH: 2, D: 8, window: 5 },
      { name: 'S=130 GQA 4/2, B=2, window 64', B: 2, S: 130, H: 4, KVH: 2, D: 8, window: 64 },
      { name: 'S=130 MQA, window 65', B: 1, S: 130, H: 3, KVH: 1, D: 5, window: 65 },
      { name: 'D=66, odd S, window 2', B: 1, S: 9, H: 2, KVH: 1, D: 66, window: 2 },
      { name: 'one token, MQA, window 1', B: 3, S: 1, H: 3, KVH: 1, D: 5, window: 1 },
      { name: 'S=7, window 1', B: 2, S: 7, H: 2, KVH: 2, D: 3, window: 1 },
      { name: 'offsets, window 3', B: 2, S: 7, H: 4, KVH: 2, D: 3, pad: [2, 3], window: 3 },
      { name: 'Gemma scale 24^-0.5, D=16, window 4', B: 2, S: 11, H: 4, KVH: 2, D: 16, scale: 24 ** -0.5, window: 4 },
    ];
    for (const c of shapes) {
      it(c.name, async () => {
        const rt = gpu();
        const L = layoutOf(c);
        const rows = c.B * c.S;
        const inputs = {
          q: rt.tensor([rows * L.ref.ldq], 'q', randn(rows * L.ref.ldq, 31, 1.5)),
          k: rt.tensor([rows * L.ref.ldk], 'k', randn(rows * L.ref.ldk, 32, 1.5)),
          v: rt.tensor([rows * L.ref.ldv], 'v', randn(rows * L.ref.ldv, 33)),
          dout: rt.tensor([rows * c.H * c.D], 'dout', randn(rows * c.H * c.D, 34)),
        };
        const run = async (serial: boolean) => {
          rt.setProfile({ rows: serial ? 'serial' : 'workgroup' });
          const out = {
            o: filled(rt, rows * c.H * c.D, 'o'),
            p: filled(rt, c.B * c.H * c.S * c.S, 'p'),
            ds: filled(rt, c.B * c.H * c.S * c.S, 'ds'),
            dq: filled(rt, rows * L.ref.ldq, 'dq'),
            dk: filled(rt, rows * L.ref.ldk, 'dk'),
            dv: filled(rt, rows * L.ref.ldv, 'dv'),
          };
          await checked(rt, () => {
            attentionForward(rt, L.gpu, inputs.q, inputs.k, inputs.v, out.o, out.p);
            attentionBackward(rt, L.gpu, inputs.q, inputs.k, inputs.v, out.p, inputs.dout, out);
          });
          const read: Record<string, Float32Array> = {};
          for (const [key, t] of Object.entries(out)) read[key] = await rt.read(t);
          rt.release(...Object.values(out));
          return read;
        };
        const keep = rt.profile;
        try {
          const workgroup = await run(false);
          const serial = await run(true);
          for (const key of Object.keys(workgroup)) expect(serial[key], key).toEqual(workgroup[key]);
        } finally {
          rt.setProfile(keep);
          rt.release(...Object.values(inputs));
        }
      });
    }
  });

  describe('analytic backward matches finite differences of the forward', () => {
    for (const c of [cases[0]!, cases[1]!, cases[7]!]) {
      it(c.name, () => {
        const L = layoutOf(c).ref;
        const rows = c.B * c.S;
        const q = toF64(randn(rows * L.ldq, 1, 1.5));
        const k = toF64(randn(rows * L.ldk, 2, 1.5));
        const v = toF64(randn(rows * L.ldv, 3));
        const w = randn(rows * c.H * c.D, 4);
        const g = attentionBwdRef(q, k, v, w, L);
        expect(
          relErr(
            g.dq,
            finiteDiff(q, (x) => dot(w, attentionFwdRef(x, k, v, L).o)),
          ),
        ).toBeLessThan(1e-6);
        expect(
          relErr(
            g.dk,
            finiteDiff(k, (x) => dot(w, attentionFwdRef(q, x, v, L).o)),
          ),
        ).toBeLessThan(1e-6);
        expect(
          relErr(
            g.dv,
            finiteDiff(v, (x) => dot(w, attentionFwdRef(q, k, x, L).o)),
          ),
        ).toBeLessThan(1e-6);
      });
    }

    const windowed: Case[] = [
      { name: 'window 1, MHA', B: 1, S: 4, H: 2, KVH: 2, D: 3, window: 1 },
      { name: 'window 2, GQA 4/2, B=2', B: 2, S: 5, H: 4, KVH: 2, D: 3, window: 2 },
      { name: 'window 3, MQA, offsets', B: 1, S: 6, H: 3, KVH: 1, D: 2, pad: [1, 2], window: 3 },
      { name: 'window 3, Gemma scale 24^-0.5, D=16', B: 1, S: 5, H: 2, KVH: 1, D: 16, scale: 24 ** -0.5, window: 3 },
      { name: 'Gemma scale 24^-0.5, D=16, full causal', B: 1, S: 4, H: 2, KVH: 2, D: 16, scale: 24 ** -0.5 },
    ];
    for (const c of windowed) {
      it(caseName(c), () => {
        const L = layoutOf(c).ref;
        const rows = c.B * c.S;
        const q = toF64(randn(rows * L.ldq, 11, 1.5));
        const k = toF64(randn(rows * L.ldk, 12, 1.5));
        const v = toF64(randn(rows * L.ldv, 13));
        const w = randn(rows * c.H * c.D, 14);
        const g = attentionBwdRef(q, k, v, w, L);
        const fdq = finiteDiff(q, (x) => dot(w, attentionFwdRef(x, k, v, L).o));
        const fdk = finiteDiff(k, (x) => dot(w, attentionFwdRef(q, x, v, L).o));
        expect(relErr(g.dq, fdq)).toBeLessThan(1e-6);
        expect(relErr(g.dk, fdk)).toBeLessThan(1e-6);
        expect(
          relErr(
            g.dv,
            finiteDiff(v, (x) => dot(w, attentionFwdRef(q, k, x, L).o)),
          ),
        ).toBeLessThan(1e-6);
        // The full-causal, default-scale backward is not the derivative here.
        const plain = layoutOf({ ...c, window: undefined, scale: undefined }).ref;
        expect(relErr(attentionBwdRef(q, k, v, w, plain).dk, fdk)).toBeGreaterThan(1e-3);
      });
    }

    it('fused qkv (one buffer, gradients summed into one dqkv)', () => {
      const [B, S, H, D] = [1, 4, 2, 3];
      const ld = 3 * H * D;
      const L: AttnLayoutRef = { B, S, H, KVH: H, D, ldq: ld, ldk: ld, ldv: ld, qOff: 0, kOff: H * D, vOff: 2 * H * D };
      const qkv = toF64(randn(B * S * ld, 5, 1.5));
      const w = randn(B * S * H * D, 6);
      const g = attentionBwdRef(qkv, qkv, qkv, w, L);
      const sum = g.dq.map((x, i) => x + g.dk[i]! + g.dv[i]!);
      expect(
        relErr(
          sum,
          finiteDiff(qkv, (x) => dot(w, attentionFwdRef(x, x, x, L).o)),
        ),
      ).toBeLessThan(1e-6);
    });
  });
});
