// The model-file cases a hostile tester reported (issue 16): each must be a FormatError that
// names the file and the problem, quickly, with a bounded message, before anything is sized
// from the bad value.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type FormatError, MAX_PROBLEM_CHARS, parseJson, renderValue } from '../../src/formats/errors';
import { CONFIG_LIMITS, canonicalizeWeights, expectedWeights, parseModelConfig } from '../../src/formats/hf-config';
import { blobSource, loadModelFolder } from '../../src/formats/model-folder';
import { parseAdapterConfig } from '../../src/formats/peft';
import { parseSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/formats/safetensors';
import { loadTokenizer } from '../../src/tokenizer/load';
import { expectFormatError, expectFormatErrorAsync, rawSafetensors } from './fixtures';

const DEV = 'public/models/dev-tiny';
const devText = (name: string) => readFileSync(`${DEV}/${name}`, 'utf8');
const devBytes = (name: string) => new Uint8Array(readFileSync(`${DEV}/${name}`));

/** Runs fn, which must throw a FormatError quickly with a bounded message; returns it. */
function hostile(fn: () => unknown, file: string, fragment: string | RegExp, ms = 1000): FormatError {
  const t0 = performance.now();
  const err = expectFormatError(fn, file, fragment);
  expect(performance.now() - t0).toBeLessThan(ms);
  expect(err.message.length).toBeLessThanOrEqual(MAX_PROBLEM_CHARS + file.length + 2);
  return err;
}

const LLAMA = JSON.parse(devText('config.json')) as Record<string, unknown>;
const GPT2 = {
  model_type: 'gpt2',
  n_embd: 32,
  n_head: 4,
  n_layer: 2,
  vocab_size: 67,
  n_positions: 64,
  layer_norm_epsilon: 1e-5,
};
const cfg = (base: object, patch: Record<string, unknown>) => JSON.stringify({ ...base, ...patch });
const C = 'config.json';

describe('config.json sizes are bounded before anything is built from them', () => {
  const cases: Array<[string, object, Record<string, unknown>, string]> = [
    [
      'a billion layers',
      LLAMA,
      { num_hidden_layers: 1_000_000_000 },
      '"num_hidden_layers" is 1000000000, above the supported maximum 1024',
    ],
    ['a million GPT-2 layers', GPT2, { n_layer: 1_000_000 }, '"n_layer" is 1000000, above'],
    ['2^53 - 1 positions', LLAMA, { max_position_embeddings: 9007199254740991 }, '"max_position_embeddings" is 9007199254740991'],
    ['3e7 positions', LLAMA, { max_position_embeddings: 3e7 }, 'above the supported maximum 16777216'],
    ['GPT-2 n_positions', GPT2, { n_positions: 1e8 }, '"n_positions" is 100000000'],
    ['GPT-2 n_ctx', { ...GPT2, n_positions: undefined }, { n_ctx: 1e8 }, '"n_ctx" is 100000000'],
    ['vocab', LLAMA, { vocab_size: 2 ** 30 }, '"vocab_size" is 1073741824'],
    ['hidden', LLAMA, { hidden_size: 2 ** 20, head_dim: 64 }, '"hidden_size" is 1048576'],
    ['heads', LLAMA, { num_attention_heads: 4096, num_key_value_heads: 1 }, '"num_attention_heads" is 4096'],
    ['kv heads', LLAMA, { num_key_value_heads: 2048 }, '"num_key_value_heads" is 2048'],
    ['intermediate', LLAMA, { intermediate_size: 2 ** 30 }, '"intermediate_size" is 1073741824'],
    ['head_dim', LLAMA, { head_dim: 4096 }, '"head_dim" is 4096'],
    ['GPT-2 n_inner', GPT2, { n_inner: 2 ** 30 }, '"n_inner" is 1073741824'],
    ['a fractional count', LLAMA, { num_hidden_layers: 2.5 }, 'must be a positive integer, got 2.5'],
    ['a list for a count', LLAMA, { num_hidden_layers: [2] }, 'must be a positive integer, got an array'],
  ];
  for (const [name, base, patch, fragment] of cases) it(name, () => void hostile(() => parseModelConfig(cfg(base, patch), C), C, fragment));

  it('the limits admit the largest configs of every family, and the expected-weight list stays small', () => {
    const big = parseModelConfig(
      cfg(LLAMA, {
        num_hidden_layers: CONFIG_LIMITS.layers,
        hidden_size: 16384,
        num_attention_heads: 128,
        num_key_value_heads: 8,
        intermediate_size: 53248,
        vocab_size: 262144,
        max_position_embeddings: 131072,
      }),
      C,
    );
    expect(expectedWeights(big).length).toBeLessThan(20 * CONFIG_LIMITS.layers);
  });

  it('a layer count the weights do not have names the first missing key, without building a huge list', () => {
    const config = parseModelConfig(cfg(LLAMA, { num_hidden_layers: 1024 }), C);
    const weights = readSafetensorsHeader(devBytes('model.safetensors'), 'model.safetensors').tensors;
    hostile(
      () => canonicalizeWeights(config, weights, 'model.safetensors'),
      'model.safetensors',
      'missing weight "model.layers.2.input_layernorm.weight" required by the llama config (the config says 1024 layers; the checkpoint has no layer 2)',
    );
  });

  it('the model folder refuses the layer count at config.json, before reading the weights', async () => {
    const files = new Map<string, Blob>([
      ['config.json', new Blob([cfg(LLAMA, { num_hidden_layers: 1e9 })])],
      ['model.safetensors', new Blob([new Uint8Array(8)])],
    ]);
    await expectFormatErrorAsync(loadModelFolder(blobSource(files)), 'config.json', 'above the supported maximum 1024');
  });

  it('the model folder compares shapes with the config before decoding any tensor', async () => {
    const files = new Map<string, Blob>([
      ['config.json', new Blob([cfg(LLAMA, { num_hidden_layers: 3 })])],
      ['model.safetensors', new Blob([devBytes('model.safetensors')])],
    ]);
    await expectFormatErrorAsync(loadModelFolder(blobSource(files)), 'model.safetensors', 'missing weight "model.layers.2.');
  });
});

describe('safetensors holds the reference reader rules', () => {
  const F = 'x.safetensors';
  const w = (shape: unknown, offsets: unknown, dtype = 'F32') => ({ dtype, shape, data_offsets: offsets });
  const bytes = (n: number) => new Uint8Array(n);

  const withText = (text: string, data = bytes(8)) => rawSafetensors(text, data);
  const cases: Array<[string, () => Uint8Array, string]> = [
    [
      'a leading space',
      () => withText(' {"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'),
      'starting with "{" at its first byte, got byte 0x20',
    ],
    ['a leading newline', () => withText('\n{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'), 'got byte 0x0a'],
    ['a BOM', () => withText('\ufeff{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'), 'got byte 0xef'],
    [
      'a gap between tensors',
      () => rawSafetensors({ a: w([1], [0, 4]), b: w([1], [8, 12]) }, bytes(12)),
      'leaving 4 bytes after the end of tensor "a"',
    ],
    [
      'a leading gap',
      () => rawSafetensors({ a: w([1], [4, 8]) }, bytes(8)),
      'tensor "a" starts at data byte 4, leaving 4 bytes after the start of the data',
    ],
    ['trailing bytes', () => rawSafetensors({ a: w([1], [0, 4]) }, bytes(8)), '4 trailing bytes that no tensor owns'],
    ['trailing bytes with no tensors', () => rawSafetensors({}, bytes(3)), 'the tensors cover 0 bytes of data but the file has 3'],
    ['a zero-length tensor inside another', () => rawSafetensors({ a: w([2], [0, 8]), z: w([0], [4, 4]) }, bytes(8)), 'overlap'],
    ['overlapping ranges', () => rawSafetensors({ a: w([2], [0, 8]), b: w([2], [4, 12]) }, bytes(12)), 'overlap'],
    ['the same range twice', () => rawSafetensors({ a: w([2], [0, 8]), b: w([2], [0, 8]) }, bytes(8)), 'overlap'],
    [
      'a float in a shape',
      () => withText('{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}'),
      'shape must be a list of non-negative integers, got [2] (written with a fraction or exponent',
    ],
    ['an exponent in a shape', () => withText('{"w":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}'), 'shape must be'],
    ['a float offset', () => withText('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}}'), 'data_offsets must be'],
    ['an exponent offset', () => withText('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4e0]}}', bytes(4)), 'data_offsets must be'],
    [
      'an offset past 2^53',
      () => withText('{"w":{"dtype":"F32","shape":[0],"data_offsets":[9007199254740993,9007199254740993]}}'),
      'data_offsets must be',
    ],
    ['an overflowing shape with a 0', () => rawSafetensors({ w: w([2 ** 40, 2 ** 40, 0], [0, 0]) }), 'overflows the element count'],
    ['an overflowing byte size', () => rawSafetensors({ w: w([2 ** 52], [0, 0]) }), 'overflows the byte size'],
    [
      'a duplicate tensor',
      () => withText('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'),
      'has the key "w" twice in the top-level value',
    ],
    [
      'a duplicate field',
      () => withText('{"w":{"dtype":"F32","shape":[2],"shape":[1],"data_offsets":[0,8]}}'),
      'has the key "shape" twice in $.w',
    ],
    [
      'a duplicate metadata key',
      () => withText('{"__metadata__":{"format":"pt","format":"np"}}', bytes(0)),
      'has the key "format" twice in $.__metadata__',
    ],
    ['trailing garbage after the JSON', () => withText('{} x', bytes(0)), 'unexpected "x" after the JSON value'],
  ];
  for (const [name, make, fragment] of cases) it(name, () => void hostile(() => parseSafetensors(make(), F), F, fragment));

  it('accepts what the reference accepts: space padding, zero-length tensors at a boundary, null metadata, unknown fields', () => {
    const text =
      '{"__metadata__":null,"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"extra":[1.5]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"c":{"dtype":"F16","shape":[0,3],"data_offsets":[8,8]}}   ';
    const parsed = parseSafetensors(rawSafetensors(text, new Uint8Array(new Float32Array([1, 2]).buffer)), F);
    expect([...parsed.tensors.keys()]).toEqual(['a', 'b', 'c']);
    expect(Array.from(parsed.tensors.get('b')!.data)).toEqual([1, 2]);
    expect(parsed.metadata).toEqual({});
  });

  it('the writer output passes every rule', () => {
    const out = writeSafetensors([
      { name: 'z', shape: [0], data: new Float32Array(0) },
      { name: 'a', shape: [3], data: new Float32Array([1, 2, 3]) },
    ]);
    expect(parseSafetensors(out, F).tensors.size).toBe(2);
  });

  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  it('a shape nested 100,000 deep: a bounded message, no stack overflow', () => {
    const err = hostile(
      () => parseSafetensors(withText(`{"w":{"dtype":"F32","shape":${deep(100_000)},"data_offsets":[0,8]}}`), F),
      F,
      'deeper than 8 levels',
    );
    expect(err.message.length).toBeLessThan(400);
  });
  it('data_offsets nested 100,000 deep', () => {
    hostile(
      () => parseSafetensors(withText(`{"w":{"dtype":"F32","shape":[2],"data_offsets":${deep(100_000)}}}`), F),
      F,
      'deeper than 8 levels',
    );
  });
  it('a shape nested within the depth bound still gets a bounded message', () => {
    const err = hostile(() => parseSafetensors(rawSafetensors({ w: w([[[[[1]]]]], [0, 8]) }, bytes(8)), F), F, 'shape must be');
    expect(err.message).toContain('[[[[…]]]]');
  });
  it('a million-entry shape gives a short message', () => {
    const shape = Array<number>(1_000_000).fill(1);
    shape[999_999] = 1.5;
    const err = hostile(() => parseSafetensors(rawSafetensors({ w: w(shape, [0, 4]) }, bytes(4)), F), F, 'shape must be', 3000);
    expect(err.message.length).toBeLessThan(400);
    expect(err.message).toContain('more)');
  });
  it('a million-entry shape that is wrong only in size gives a short message', () => {
    const err = hostile(
      () => parseSafetensors(rawSafetensors({ w: w(Array<number>(1_000_000).fill(1), [0, 8]) }, bytes(8)), F),
      F,
      'needs 4',
      3000,
    );
    expect(err.message.length).toBeLessThan(400);
  });
  it('a 1 MB tensor name is cut in messages', () => {
    const name = 'n'.repeat(1_000_000);
    const err = hostile(() => parseSafetensors(rawSafetensors({ [name]: w([3], [0, 8]) }, bytes(8)), F), F, 'needs 12');
    expect(err.message.length).toBeLessThan(400);
  });
});

describe('adapter_config.json', () => {
  const A = 'adapter_config.json';
  const LORA = { peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, target_modules: ['q_proj'], bias: 'none' };
  it('target_modules nested 100,000 deep', () => {
    const text = JSON.stringify(LORA).replace('["q_proj"]', `${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    hostile(() => parseAdapterConfig(text, A), A, 'deeper than 64 levels');
  });
  it('target_modules nested within the bound: a bounded rendering', () => {
    const text = JSON.stringify({ ...LORA, target_modules: [[[[['q_proj']]]]] });
    const err = hostile(() => parseAdapterConfig(text, A), A, 'target_modules must be a non-empty list of module names, got [[[[…]]]]');
    expect(err.message.length).toBeLessThan(200);
  });
  it('a million target names', () => {
    const text = JSON.stringify({ ...LORA, target_modules: Array.from({ length: 1_000_000 }, (_, i) => `m${i}`) });
    hostile(() => parseAdapterConfig(text, A), A, 'target_modules lists 1000000 names; at most 1024', 3000);
  });
  it('a rank of a billion', () =>
    void hostile(() => parseAdapterConfig(JSON.stringify({ ...LORA, r: 1e9 }), A), A, '"r" is 1000000000, above'));
  it('a duplicate key that changes the rank', () => {
    hostile(() => parseAdapterConfig('{"peft_type":"LORA","r":4,"target_modules":["q_proj"],"r":64}', A), A, 'has the key "r" twice');
  });
  it('a duplicate key in config.json', () => {
    hostile(
      () =>
        parseModelConfig(devText('config.json').replace('"num_hidden_layers": 2,', '"num_hidden_layers": 2, "num_hidden_layers": 3,'), C),
      C,
      'has the key "num_hidden_layers" twice in the top-level value',
    );
  });
});

describe('tokenizer ids are checked against the model before the library sees them', () => {
  const T = 'tokenizer.json';
  const tok = JSON.parse(devText('tokenizer.json')) as { model: { vocab: Record<string, number> }; added_tokens: Array<{ id: number }> };
  const tokConfig = devText('tokenizer_config.json');
  const withVocabId = (token: string, id: number) =>
    JSON.stringify({ ...tok, model: { ...tok.model, vocab: { ...tok.model.vocab, [token]: id } } });

  it('loads the valid tokenizer with the model vocab size', () => {
    expect(loadTokenizer(devText('tokenizer.json'), tokConfig, 257).vocabSize).toBe(257);
  });
  it('a vocab id above vocab_size though the entry count is under it', () => {
    const vocab = { ...tok.model.vocab };
    delete vocab.a;
    const text = JSON.stringify({ ...tok, model: { ...tok.model, vocab: { ...vocab, a: 300 } } });
    hostile(
      () => loadTokenizer(text, tokConfig, 257),
      T,
      `model.vocab token "a" has id 300; ids must be integers from 0 to below the model's vocab_size 257`,
    );
  });
  it('an id of 1e9 fails at once, with or without the model', () => {
    hostile(() => loadTokenizer(withVocabId('zz', 1e9), tokConfig, 257), T, 'has id 1000000000', 500);
    hostile(() => loadTokenizer(withVocabId('zz', 1e9), tokConfig), T, 'below the supported maximum vocabulary of 4194304', 500);
  });
  it('negative and fractional ids', () => {
    hostile(() => loadTokenizer(withVocabId('zz', -1), tokConfig, 257), T, 'has id -1');
    hostile(() => loadTokenizer(withVocabId('zz', 1.5), tokConfig, 257), T, 'has id 1.5');
  });
  it('a non-special added token above vocab_size', () => {
    const text = JSON.stringify({ ...tok, added_tokens: [{ ...tok.added_tokens[0], id: 5000, special: false }] });
    hostile(() => loadTokenizer(text, tokConfig, 257), T, 'added_tokens[0] "<|endoftext|>" has id 5000');
  });
  it('a special added token past vocab_size (Gemma 3 lists <image_soft_token> at 262144 = vocab_size) is left out, never produced', () => {
    const text = JSON.stringify({
      ...tok,
      added_tokens: [...tok.added_tokens, { id: 257, content: '<image_soft_token>', special: true, normalized: false }],
    });
    const t = loadTokenizer(text, tokConfig, 257);
    expect(t.vocabSize).toBe(257);
    expect(t.tokenText(257)).toBeNull();
    expect(t.encode('a<image_soft_token>b').every((id) => id < 257)).toBe(true);
    // Past the hard bound it is an error all the same.
    const huge = JSON.stringify({ ...tok, added_tokens: [...tok.added_tokens, { id: 1e9, content: '<x>', special: true }] });
    hostile(() => loadTokenizer(huge, tokConfig, 257), T, 'added_tokens[1] "<x>" has id 1000000000', 500);
  });
  it('the model folder passes config.json vocab_size to the tokenizer', async () => {
    const files = new Map<string, Blob>([
      ['config.json', new Blob([devText('config.json')])],
      ['model.safetensors', new Blob([devBytes('model.safetensors')])],
      ['tokenizer.json', new Blob([withVocabId('zz', 257)])],
      ['tokenizer_config.json', new Blob([tokConfig])],
    ]);
    await expectFormatErrorAsync(
      loadModelFolder(blobSource(files), { tokenizer: true }),
      'tokenizer.json',
      'model.vocab token "zz" has id 257',
    );
  });
  it('a duplicate key in tokenizer_config.json', () => {
    const text = tokConfig.replace('"eos_token": "<|endoftext|>",', '"eos_token": "<|endoftext|>", "eos_token": "x",');
    hostile(() => loadTokenizer(devText('tokenizer.json'), text, 257), 'tokenizer_config.json', 'has the key "eos_token" twice');
  });
});

describe('the strict JSON reader', () => {
  const F = 'f.json';
  it('reads what JSON.parse reads, to the same values', () => {
    const texts = [
      '{"a":[1,-2,3.5,1e3,-0,1E-2,0.0],"b":{"c":null,"d":true,"e":false},"f":"x\\"y\\\\z\\u00e9\\n","":{}}',
      ' [ ] ',
      '"just a string"',
      '123',
      '{"__proto__": {"polluted": 1}}',
      devText('config.json'),
      devText('tokenizer.json'),
    ];
    for (const t of texts) expect(parseJson(t, F)).toEqual(JSON.parse(t));
    const proto = parseJson('{"__proto__": {"polluted": 1}}', F) as Record<string, unknown>;
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.keys(proto)).toEqual(['__proto__']);
  });
  const bad: Array<[string, string]> = [
    ['', 'unexpected end of text'],
    ['{', 'expected a key in quotes'],
    ['{"a" 1}', 'expected ":"'],
    ['{"a":1,}', 'expected a key in quotes'],
    ['[1,]', 'unexpected "]"'],
    ['[1 2]', 'expected "," or "]"'],
    ['01', 'leading zero'],
    ['1.', 'no digits after'],
    ['1e', 'no digits in its exponent'],
    ['-', 'malformed'],
    ['"abc', 'not closed'],
    ['"a\tb"', 'control character U+0009'],
    ['"\\x"', 'bad escape'],
    ['NaN', 'unexpected "N"'],
    ['{"a":1}{', 'after the JSON value'],
    ['\ufeff{}', 'unexpected character U+FEFF'],
  ];
  for (const [text, fragment] of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      expect(() => JSON.parse(text)).toThrow();
      hostile(() => parseJson(text, F), F, fragment);
    });
  }
  it('says where a problem is', () => {
    hostile(() => parseJson('{\n  "a": {\n    "b": [1, 2, x]\n  }\n}', F), F, 'line 3 column 17, in $.a.b[2]');
  });
  it('renderValue is bounded for any value', () => {
    let v: unknown = 1;
    for (let i = 0; i < 100_000; i++) v = [v];
    expect(renderValue(v)).toBe('[[[[…]]]]');
    expect(renderValue('x'.repeat(10_000)).length).toBeLessThanOrEqual(200);
    expect(renderValue(Array(1e6).fill(7)).length).toBeLessThanOrEqual(200);
    expect(renderValue({ a: 1, b: [1, 2], c: 'x' })).toBe('{"a": 1, "b": [1, 2], "c": "x"}');
  });
});
