import { describe, it, expect } from 'vitest';
import { FormatError } from '../../src/formats/errors';
import { f16ToF32, loadShardedIndex, parseSafetensors, writeSafetensors } from '../../src/formats/safetensors';
import { CASES, HAVE_FIXTURES, expectFormatError, fixtureBytes, rawSafetensors } from './fixtures';

const F = 'test.safetensors';

function u16Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  values.forEach((v, i) => {
    out[2 * i] = v & 0xff;
    out[2 * i + 1] = v >> 8;
  });
  return out;
}

function oneTensor(dtype: string, bits: number[]): Float32Array {
  const data = u16Bytes(bits);
  const bytes = rawSafetensors({ x: { dtype, shape: [bits.length], data_offsets: [0, data.length] } }, data);
  const t = parseSafetensors(bytes, F).tensors.get('x')!;
  expect(t.dtype).toBe(dtype);
  return t.data;
}

describe('F16 / BF16 decoding', () => {
  it('decodes F16 normals, subnormals, zeros, infinities and NaN', () => {
    const cases: Array<[number, number]> = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504], // largest finite half
      [0x0400, 2 ** -14], // smallest normal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x8001, -(2 ** -24)],
      [0x0000, 0],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    const out = oneTensor(
      'F16',
      cases.map((c) => c[0]),
    );
    for (const [i, [, want]] of cases.entries()) expect(out[i]).toBe(want);
    const special = oneTensor('F16', [0x8000, 0x7e00, 0xfe01]);
    expect(Object.is(special[0], -0)).toBe(true);
    expect(Number.isNaN(special[1])).toBe(true);
    expect(Number.isNaN(special[2])).toBe(true);
  });

  it('f16ToF32 agrees with the table for every bit pattern', () => {
    const all = Array.from({ length: 65536 }, (_, h) => h);
    const out = oneTensor('F16', all);
    for (const h of all) {
      const want = Math.fround(f16ToF32(h));
      if (Number.isNaN(want)) expect(Number.isNaN(out[h])).toBe(true);
      else expect(Object.is(out[h], want)).toBe(true);
    }
  });

  it('decodes BF16 as the upper half of an f32', () => {
    const out = oneTensor('BF16', [0x3f80, 0xc000, 0x4049, 0x7f80, 0xff80, 0x0001, 0x8000, 0x7fc0]);
    expect(Array.from(out.subarray(0, 6))).toEqual([1, -2, 3.140625, Infinity, -Infinity, 2 ** -133]);
    expect(Object.is(out[6], -0)).toBe(true);
    expect(Number.isNaN(out[7])).toBe(true);
  });
});

describe('writeSafetensors / parseSafetensors', () => {
  const tensors = [
    { name: 'b.weight', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, -6.5]) },
    { name: 'a.bias', shape: [3], data: new Float32Array([0.1, Infinity, -0]) },
    { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
    { name: 'scalar', shape: [], data: new Float32Array([42]) },
  ];

  it('round-trips names, shapes, values and metadata', () => {
    const bytes = writeSafetensors(tensors, { format: 'pt' });
    const parsed = parseSafetensors(bytes, F);
    expect(parsed.metadata).toEqual({ format: 'pt' });
    expect([...parsed.tensors.keys()].sort()).toEqual(['a.bias', 'b.weight', 'empty', 'scalar']);
    for (const t of tensors) {
      const got = parsed.tensors.get(t.name)!;
      expect(got.dtype).toBe('F32');
      expect(got.shape).toEqual(t.shape);
      expect(Array.from(got.data)).toEqual(Array.from(t.data));
    }
  });

  it('writes a space-padded, 8-aligned header with sorted keys and metadata', () => {
    const bytes = writeSafetensors(new Map(tensors.map((t) => [t.name, t])), { format: 'pt' });
    const headerLen = new DataView(bytes.buffer).getUint32(0, true);
    expect(headerLen % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + headerLen));
    expect(text.trimEnd().length).toBeLessThanOrEqual(headerLen);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const header = JSON.parse(text) as Record<string, { data_offsets: number[] }>;
    expect(Object.keys(header)).toEqual(['__metadata__', 'a.bias', 'b.weight', 'empty', 'scalar']);
    expect(header['a.bias']!.data_offsets).toEqual([0, 12]);
    expect(bytes.length).toBe(8 + headerLen + (3 + 6 + 0 + 1) * 4);
  });

  it('omits __metadata__ when none is given', () => {
    const bytes = writeSafetensors([tensors[0]!]);
    expect(parseSafetensors(bytes, F).metadata).toEqual({});
    expect(new TextDecoder().decode(bytes)).not.toContain('__metadata__');
  });

  it('rejects inconsistent tensors to write', () => {
    expectFormatError(
      () => writeSafetensors([{ name: 'x', shape: [2, 2], data: new Float32Array(3) }], undefined, 'out'),
      'out',
      '4 elements',
    );
    expectFormatError(() => writeSafetensors([tensors[0]!, tensors[0]!], undefined, 'out'), 'out', 'appears twice');
  });

  it('reads tensors at unaligned offsets (header not padded, input not aligned)', () => {
    // 13-byte header → data starts at byte 21; the F32 tensor then sits at data offset 2 (byte 23).
    const f16 = u16Bytes([0x3c00]);
    const f32 = new Uint8Array(new Float32Array([1.5, -2.25]).buffer);
    const header = { h: { dtype: 'F16', shape: [1], data_offsets: [0, 2] }, f: { dtype: 'F32', shape: [2], data_offsets: [2, 10] } };
    const bytes = rawSafetensors(header, new Uint8Array([...f16, ...f32]));
    // Also shift the whole file by one byte inside a larger buffer, as a pooled Node Buffer can be.
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    for (const b of [bytes, shifted]) {
      const t = parseSafetensors(b, F).tensors;
      expect(Array.from(t.get('f')!.data)).toEqual([1.5, -2.25]);
      expect(Array.from(t.get('h')!.data)).toEqual([1]);
    }
  });
});

describe('malformed safetensors', () => {
  const good = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const data8 = new Uint8Array(8);
  const cases: Array<[string, () => Uint8Array, string | RegExp]> = [
    ['empty file', () => new Uint8Array(0), 'too short'],
    ['7-byte file', () => new Uint8Array(7), 'too short'],
    ['truncated data', () => rawSafetensors(good, data8).subarray(0, 8 + JSON.stringify(good).length + 5), 'truncated'],
    ['truncated header', () => rawSafetensors(good, data8).subarray(0, 20), 'runs past the end of the file'],
    ['header length beyond file', () => rawSafetensors(good, data8, 5000), 'runs past the end of the file'],
    [
      'absurd header length',
      () => {
        const b = rawSafetensors(good, data8);
        b[7] = 1;
        return b;
      },
      'not sane',
    ],
    ['header not JSON', () => rawSafetensors('{"w": {"dtype": ', data8), 'not valid JSON'],
    ['header not UTF-8', () => rawSafetensors('{"\xff"}').map((v, i) => (i === 10 ? 0xff : v)), 'not valid UTF-8'],
    ['header is an array', () => rawSafetensors([1, 2]), 'must be a JSON object'],
    ['entry not an object', () => rawSafetensors({ w: 3 }), 'tensor "w": entry must be an object'],
    ['missing dtype', () => rawSafetensors({ w: { shape: [2], data_offsets: [0, 8] } }, data8), 'tensor "w": missing "dtype"'],
    ['missing shape', () => rawSafetensors({ w: { dtype: 'F32', data_offsets: [0, 8] } }, data8), 'tensor "w": missing "shape"'],
    ['missing offsets', () => rawSafetensors({ w: { dtype: 'F32', shape: [2] } }, data8), 'tensor "w": missing "data_offsets"'],
    [
      'unknown dtype I64',
      () => rawSafetensors({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, data8),
      'tensor "ids" has dtype the string "I64"',
    ],
    [
      'prototype-named dtype',
      () => rawSafetensors({ w: { dtype: 'toString', shape: [1], data_offsets: [0, 4] } }, data8),
      'only F32, F16 and BF16',
    ],
    ['fractional shape', () => rawSafetensors({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, data8), 'shape must be'],
    ['negative offset', () => rawSafetensors({ w: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, data8), 'data_offsets must be'],
    ['offsets reversed', () => rawSafetensors({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, data8), 'begin after end'],
    [
      'offsets out of range',
      () => rawSafetensors({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data8),
      'run past the end of the data',
    ],
    [
      'wrong byte count',
      () => rawSafetensors({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data8),
      'span 8 bytes but F32 shape [3] needs 12',
    ],
    ['wrong byte count for F16', () => rawSafetensors({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 8] } }, data8), 'needs 4'],
    [
      'overlapping tensors',
      () =>
        rawSafetensors(
          { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } },
          data8,
        ),
      'overlap',
    ],
    ['metadata not strings', () => rawSafetensors({ __metadata__: { format: 1 } }), '__metadata__.format must be a string'],
  ];
  for (const [name, make, fragment] of cases) {
    it(name, () => {
      expectFormatError(() => parseSafetensors(make(), F), F, fragment);
    });
  }

  it.skipIf(!HAVE_FIXTURES)('a fixture cut short', () => {
    const bytes = fixtureBytes('llama-lora-qv', 'model.safetensors');
    expectFormatError(() => parseSafetensors(bytes.subarray(0, bytes.length - 1), 'cut.safetensors'), 'cut.safetensors', 'truncated');
    expectFormatError(() => parseSafetensors(bytes.subarray(0, 100), 'cut.safetensors'), 'cut.safetensors', 'runs past the end');
  });
});

describe('loadShardedIndex', () => {
  const I = 'model.safetensors.index.json';
  it('returns the weight map and distinct sorted shards', () => {
    const idx = JSON.stringify({
      metadata: { total_size: 24 },
      weight_map: { b: 'model-00002-of-00002.safetensors', a: 'model-00001-of-00002.safetensors', c: 'model-00001-of-00002.safetensors' },
    });
    const { weightMap, shards } = loadShardedIndex(idx, I);
    expect(weightMap.a).toBe('model-00001-of-00002.safetensors');
    expect(shards).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  });
  const bad: Array<[string, string, string]> = [
    ['bad JSON', '{', 'not valid JSON'],
    ['not an object', '[]', 'must be a JSON object'],
    ['missing weight_map', '{"metadata": {}}', 'missing "weight_map"'],
    ['empty weight_map', '{"weight_map": {}}', 'empty'],
    ['non-string shard', '{"weight_map": {"a": 3}}', 'weight_map["a"]'],
    ['path traversal', '{"weight_map": {"a": "../x.safetensors"}}', 'not a plain file name'],
  ];
  for (const [name, json, fragment] of bad) it(name, () => void expectFormatError(() => loadShardedIndex(json, I), I, fragment));
});

describe.skipIf(!HAVE_FIXTURES)('fixture safetensors', () => {
  it('parses every safetensors file in every fixture', () => {
    let files = 0;
    for (const c of CASES) {
      const names = ['model.safetensors', 'expected/logits.safetensors', 'expected/grads.safetensors', 'expected/after_adamw.safetensors'];
      for (const n of names) {
        const bytes = fixtureBytes(c, ...n.split('/'));
        const parsed = parseSafetensors(bytes, n);
        expect(parsed.tensors.size).toBeGreaterThan(0);
        for (const t of parsed.tensors.values()) {
          expect(t.dtype).toBe('F32');
          expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
          expect(t.data.every((v) => Number.isFinite(v))).toBe(true);
        }
        files++;
      }
    }
    expect(files).toBe(CASES.length * 4);
  });

  it('re-writing a fixture gives the same tensors', () => {
    const orig = parseSafetensors(fixtureBytes('gpt2-lora', 'adapter', 'adapter_model.safetensors'), 'a');
    const again = parseSafetensors(writeSafetensors(orig.tensors, orig.metadata), 'b');
    expect(again.metadata).toEqual({ format: 'pt' });
    expect([...again.tensors.keys()]).toEqual([...orig.tensors.keys()].sort());
    for (const [k, t] of orig.tensors) expect(again.tensors.get(k)!.data).toEqual(t.data);
  });

  it('errors are FormatErrors, not TypeErrors, for random corruption', () => {
    const bytes = fixtureBytes('llama-vera', 'adapter', 'adapter_model.safetensors');
    let seed = 1;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 200; trial++) {
      const copy = bytes.slice();
      const headerEnd = 8 + new DataView(copy.buffer).getUint32(0, true);
      copy[Math.floor(rand() * headerEnd)] = Math.floor(rand() * 256);
      try {
        parseSafetensors(copy, 'x');
      } catch (e) {
        expect(e).toBeInstanceOf(FormatError);
      }
    }
  });
});
