// Seeded fuzzing of the model-file parsers (issue 16): valid small files (the bundled tiny models
// in public/, hand-built ones, and the golden fixtures when ../shared/fixtures is there) mutated
// by byte flips, truncation, splices, header-length edits and JSON-aware edits (numbers made
// huge/negative/fractional/nested, keys deleted, duplicated or renamed, subtrees swapped or
// nested 100,000 deep). Every input must end in a FormatError or a valid result within a second;
// anything else (a TypeError, a RangeError, a hang) fails the test. The table is printed at the end.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { seededRandom } from '../../src/adapters/init';
import { FormatError, MAX_PROBLEM_CHARS } from '../../src/formats/errors';
import { CONFIG_LIMITS, canonicalizeWeights, expectedWeights, type ModelConfig, parseModelConfig } from '../../src/formats/hf-config';
import { checkAdapterTensors, expectedAdapterTensors, parseAdapterConfig } from '../../src/formats/peft';
import { parseSafetensors, readSafetensorsHeader, type TensorInfo, writeSafetensors } from '../../src/formats/safetensors';
import { loadTokenizer } from '../../src/tokenizer/load';
import { chatTokenizerJson, GEMMA3_CONFIG, QWEN25_CONFIG, VOCAB_SIZE as CHAT_VOCAB } from '../tokenizer/chat-tokenizers';
import { SP_TOKENIZER_CONFIG, sentencePieceTokenizerJson } from '../tokenizer/sentencepiece';
import { ADAPTER_CASES, CASES, HAVE_FIXTURES, fixtureBytes, fixtureText } from './fixtures';
import { int, markdownTable, pick, type Random } from '../helpers/fuzz';
import { LORA_CONFIG as LORA_JSON, VERA_CONFIG as VERA_JSON } from './peft-configs';

const INPUTS_PER_PARSER = 1000;
/** Another seed explores other inputs: FORMAT_FUZZ_SEED=7 npx vitest run test/formats/fuzz.test.ts */
const SEED = Number(process.env.FORMAT_FUZZ_SEED ?? 16);
const TIME_LIMIT_MS = 1000;
/** Peak growth of the process's memory over one parser's run; a bound-less allocation would blow far past it. */
const MEMORY_LIMIT_BYTES = 1.5 * 2 ** 30;

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

// ---- JSON trees that can hold what JSON.parse cannot: duplicate keys and raw text ------------

class Raw {
  constructor(readonly text: string) {}
}
class Obj {
  constructor(readonly entries: Array<[string, Node]>) {}
}
type Node = null | boolean | number | string | Raw | Obj | Node[];

function toNode(v: unknown): Node {
  if (Array.isArray(v)) return v.map(toNode);
  if (typeof v === 'object' && v !== null) return new Obj(Object.entries(v).map(([k, x]) => [k, toNode(x)]));
  return v as Node;
}

function serialize(n: Node): string {
  if (n instanceof Raw) return n.text;
  if (n instanceof Obj) return `{${n.entries.map(([k, v]) => `${JSON.stringify(k)}:${serialize(v)}`).join(',')}}`;
  if (Array.isArray(n)) return `[${n.map(serialize).join(',')}]`;
  return JSON.stringify(n);
}

function clone(n: Node): Node {
  if (n instanceof Obj) return new Obj(n.entries.map(([k, v]) => [k, clone(v)]));
  if (Array.isArray(n)) return n.map(clone);
  return n;
}

/** Every place in the tree a node can be replaced: a container and its key/index. */
type Slot = { readonly parent: Obj | Node[]; readonly at: number };

function slots(root: Node): Slot[] {
  const out: Slot[] = [];
  const walk = (n: Node) => {
    if (n instanceof Obj) {
      n.entries.forEach(([, v], i) => {
        out.push({ parent: n, at: i });
        walk(v);
      });
    } else if (Array.isArray(n)) {
      // Long lists (a vocab, merges, a shape) would swamp the choice: sample a few of their items.
      const step = Math.max(1, Math.floor(n.length / 16));
      for (let i = 0; i < n.length; i += step) {
        out.push({ parent: n, at: i });
        walk(n[i]!);
      }
    }
  };
  walk(root);
  return out;
}

const get = (s: Slot): Node => (s.parent instanceof Obj ? s.parent.entries[s.at]![1] : s.parent[s.at]!);
const set = (s: Slot, v: Node) => {
  if (s.parent instanceof Obj) s.parent.entries[s.at]![1] = v;
  else s.parent[s.at] = v;
};

const deep = (n: number, open = '[', close = ']') => new Raw(`${open.repeat(n)}${close.repeat(n)}`);
const INTERESTING_NUMBERS: Node[] = [
  0,
  -1,
  1,
  2,
  3,
  7,
  255,
  256,
  65536,
  1e9,
  2 ** 31,
  2 ** 32,
  2 ** 53 - 1,
  new Raw('9007199254740993'),
  new Raw('123456789012345678901234567890'),
  1e308,
  new Raw('1e400'),
  new Raw('-0'),
  0.5,
  1.5,
  -2.5,
  new Raw('2.0'),
  new Raw('4e0'),
  new Raw('1E2'),
  1e-300,
  CONFIG_LIMITS.layers + 1,
  CONFIG_LIMITS.positions + 1,
  CONFIG_LIMITS.vocab,
];
const INTERESTING_VALUES: Node[] = [
  null,
  true,
  false,
  '',
  'x',
  '__proto__',
  'F32',
  'BF16',
  'I64',
  'toString',
  'x'.repeat(100_000),
  [],
  new Obj([]),
  [1, 2],
  [[[[[1]]]]],
  deep(100_000),
  new Raw(`{"a":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`),
  new Raw(`[${Array<number>(100_000).fill(1).join(',')}]`),
  new Obj([['content', 'x']]),
];
const KEY_NAMES = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '',
  '__metadata__',
  'dtype',
  'shape',
  'model_type',
  'r',
  'vocab',
];

/** One JSON-aware edit of the tree (in place where possible); returns the new root and its name. */
function mutateTree(root: Node, r: Random): { root: Node; name: string } {
  const all = slots(root);
  if (all.length === 0) return { root: pick(r, INTERESTING_VALUES), name: 'replace root' };
  const s = pick(r, all);
  const cur = get(s);
  const op = int(r, 11);
  switch (op) {
    case 0:
    case 1: {
      // Numbers are where the sizes live: prefer them.
      const nums = all.filter((x) => typeof get(x) === 'number');
      const t = nums.length > 0 ? pick(r, nums) : s;
      set(t, pick(r, INTERESTING_NUMBERS));
      return { root, name: 'number → interesting' };
    }
    case 2:
      set(s, pick(r, INTERESTING_VALUES));
      return { root, name: 'value → interesting' };
    case 3:
      if (s.parent instanceof Obj) s.parent.entries.splice(s.at, 1);
      else s.parent.splice(s.at, 1);
      return { root, name: 'delete' };
    case 4:
      if (s.parent instanceof Obj) {
        const [k] = s.parent.entries[s.at]!;
        s.parent.entries.splice(int(r, s.parent.entries.length + 1), 0, [k, r() < 0.5 ? clone(cur) : pick(r, INTERESTING_NUMBERS)]);
        return { root, name: 'duplicate key' };
      }
      s.parent.splice(s.at, 0, clone(cur));
      return { root, name: 'duplicate item' };
    case 5:
      if (s.parent instanceof Obj) {
        const keys = [...KEY_NAMES, ...s.parent.entries.map(([k]) => k)];
        s.parent.entries[s.at]![0] = pick(r, keys);
        return { root, name: 'rename key' };
      }
      set(s, -1);
      return { root, name: 'item → -1' };
    case 6: {
      // Copies, not moves: moving a node into its own subtree would make a cycle.
      const other = pick(r, all);
      const v = clone(get(other));
      set(other, clone(cur));
      set(s, v);
      return { root, name: 'swap subtrees' };
    }
    case 7:
      set(s, r() < 0.5 ? [cur] : new Obj([['x', cur]]));
      return { root, name: 'wrap' };
    case 8:
      set(s, r() < 0.5 ? deep(100_000) : deep(int(r, 70) + 1));
      return { root, name: 'nest deep' };
    case 9:
      if (typeof cur === 'number') set(s, -cur || -1);
      else if (typeof cur === 'string') set(s, cur.slice(0, int(r, cur.length + 1)) + pick(r, ['', 'x', '\u0000', '\ud800', '"']));
      else set(s, pick(r, INTERESTING_NUMBERS));
      return { root, name: 'tweak' };
    default: {
      // Copy a subtree from elsewhere into an object as a new key.
      const objs = all.map(get).filter((x): x is Obj => x instanceof Obj);
      const target = objs.length > 0 ? pick(r, objs) : null;
      if (target) target.entries.push([pick(r, KEY_NAMES), clone(get(pick(r, all)))]);
      return { root, name: 'add key' };
    }
  }
}

function mutateJsonText(source: string, r: Random): { text: string; names: string[] } {
  let root = toNode(JSON.parse(source));
  const names: string[] = [];
  for (let k = 1 + int(r, 3); k > 0; k--) {
    const m = mutateTree(root, r);
    root = m.root;
    names.push(m.name);
  }
  return { text: serialize(root), names };
}

const SPECIAL_BYTES = [...'{}[]",:0123456789.eE-+ \n\t\\']
  .map((c) => c.charCodeAt(0))
  .concat([0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xef, 0xfe, 0xff]);

/** Byte-level edits within [from, to) (a header, or a whole text file). */
function mutateBytes(b: Uint8Array, r: Random, from = 0, to = b.length): { bytes: Uint8Array; name: string } {
  const at = () => from + int(r, Math.max(1, to - from));
  switch (int(r, 7)) {
    case 0: {
      const out = b.slice();
      for (let k = 1 + int(r, 4); k > 0; k--) {
        const i = at();
        if (i < out.length) out[i] = out[i]! ^ (1 << int(r, 8));
      }
      return { bytes: out, name: 'bit flips' };
    }
    case 1: {
      const out = b.slice();
      const i = at();
      if (i < out.length) out[i] = pick(r, SPECIAL_BYTES);
      return { bytes: out, name: 'special byte' };
    }
    case 2:
      return { bytes: b.slice(0, int(r, b.length)), name: 'truncate' };
    case 3: {
      // Splice: copy a chunk from one place over (or into) another.
      const src = at();
      const len = 1 + int(r, 64);
      const chunk = b.slice(src, src + len);
      const dst = Math.min(at(), b.length);
      if (r() < 0.5) {
        const out = new Uint8Array(b.length + chunk.length);
        out.set(b.subarray(0, dst));
        out.set(chunk, dst);
        out.set(b.subarray(dst), dst + chunk.length);
        return { bytes: out, name: 'splice in' };
      }
      const out = b.slice();
      out.set(chunk.subarray(0, b.length - dst), dst);
      return { bytes: out, name: 'splice over' };
    }
    case 4: {
      const i = at();
      const len = 1 + int(r, 32);
      const out = new Uint8Array(b.length - Math.min(len, b.length - i));
      out.set(b.subarray(0, i));
      out.set(b.subarray(i + len), i);
      return { bytes: out, name: 'delete bytes' };
    }
    case 5: {
      const extra = Uint8Array.from({ length: 1 + int(r, 16) }, () => int(r, 256));
      const out = new Uint8Array(b.length + extra.length);
      out.set(b);
      out.set(extra, b.length);
      return { bytes: out, name: 'append bytes' };
    }
    default: {
      const out = b.slice();
      const i = at();
      out.copyWithin(i, at(), at() + 1 + int(r, 16));
      return { bytes: out, name: 'copy within' };
    }
  }
}

/** A JSON file's text, mutated JSON-aware (60%) or byte-wise (40%), possibly both. */
function mutateJsonFile(source: string, r: Random): { text: string; names: string[] } {
  let current = source;
  const names: string[] = [];
  if (r() < 0.6) {
    const m = mutateJsonText(current, r);
    current = m.text;
    names.push(...m.names);
  }
  if (names.length === 0 || r() < 0.25) {
    const m = mutateBytes(utf8(current), r);
    current = text(m.bytes);
    names.push(m.name);
  }
  return { text: current, names };
}

// ---- safetensors: header-aware edits ---------------------------------------------------------

function headerOf(b: Uint8Array): { len: number; json: string } {
  const len = new DataView(b.buffer, b.byteOffset, 8).getUint32(0, true);
  return { len, json: text(b.subarray(8, 8 + len)) };
}

function pack(headerText: string, data: Uint8Array, lengthField?: number): Uint8Array {
  const h = utf8(headerText);
  const out = new Uint8Array(8 + h.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, lengthField ?? h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function mutateSafetensors(source: Uint8Array, r: Random): { bytes: Uint8Array; names: string[] } {
  const { len, json } = headerOf(source);
  const data = source.subarray(8 + len);
  const choice = r();
  if (choice < 0.45) {
    // JSON-aware header edit, re-packed with the right length (mostly) so it reaches the checks.
    const m = mutateJsonText(json, r);
    const lengthField = r() < 0.9 ? undefined : pick(r, [len, 0, 1, 2 ** 31, 100_000_001]);
    let bytes = pack(m.text, r() < 0.8 ? data : data.subarray(0, int(r, data.length + 1)), lengthField);
    if (r() < 0.1) bytes = mutateBytes(bytes, r, 8, 8 + Math.min(m.text.length, 2000)).bytes;
    return { bytes, names: m.names };
  }
  if (choice < 0.85) {
    // Byte edits inside the header (where the structure is), length kept.
    const m = mutateBytes(source, r, 8, 8 + len);
    return { bytes: m.bytes, names: [`header ${m.name}`] };
  }
  if (choice < 0.95) {
    // The length field itself.
    const out = source.slice();
    const view = new DataView(out.buffer);
    const v = pick(r, [len - 1, len + 1, len - 8, len + 8, 0, 1, 2, 7, int(r, 2 ** 32), 100_000_000, 100_000_001]);
    view.setUint32(0, Math.max(0, v) >>> 0, true);
    if (r() < 0.2) view.setUint32(4, 1 + int(r, 255), true);
    return { bytes: out, names: ['length field'] };
  }
  const m = mutateBytes(source, r);
  return { bytes: m.bytes, names: [`file ${m.name}`] };
}

// ---- the valid sources -----------------------------------------------------------------------

const PUBLIC_MODELS = ['public/models/dev-tiny', 'public/models/kjv-tiny'];
const publicText = (dir: string, name: string) => readFileSync(`${dir}/${name}`, 'utf8');
const publicBytes = (dir: string, name: string) => new Uint8Array(readFileSync(`${dir}/${name}`));

/** A small file with every dtype, metadata, a scalar, an empty tensor and unaligned data. */
function handMadeSafetensors(): Uint8Array {
  const f16 = [0x3c00, 0xc000, 0x7bff];
  const bf16 = [0x3f80, 0x4049];
  const bytes: number[] = [];
  for (const h of [...f16, ...bf16]) bytes.push(h & 0xff, h >> 8);
  bytes.push(...new Uint8Array(new Float32Array([1.5, -2, 3]).buffer));
  const header = {
    __metadata__: { format: 'pt', note: 'fuzz' },
    h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
    b: { dtype: 'BF16', shape: [1, 2], data_offsets: [6, 10] },
    e: { dtype: 'F32', shape: [0, 5], data_offsets: [10, 10] },
    f: { dtype: 'F32', shape: [3], data_offsets: [10, 22] },
  };
  return pack(JSON.stringify(header), Uint8Array.from(bytes));
}

interface ModelSource {
  readonly name: string;
  readonly configJson: string;
  /** The checkpoint's tensors (header only), to cross-check an accepted config against. */
  readonly weights: Map<string, TensorInfo>;
}

const modelSources: ModelSource[] = [
  ...PUBLIC_MODELS.map((dir) => ({
    name: dir,
    configJson: publicText(dir, 'config.json'),
    weights: readSafetensorsHeader(publicBytes(dir, 'model.safetensors'), 'model.safetensors').tensors,
  })),
  ...(HAVE_FIXTURES
    ? CASES.map((c) => ({
        name: c,
        configJson: fixtureText(c, 'config.json'),
        weights: readSafetensorsHeader(fixtureBytes(c, 'model.safetensors'), 'model.safetensors').tensors,
      }))
    : []),
];

const safetensorsSources: Uint8Array[] = [
  handMadeSafetensors(),
  publicBytes('public/models/dev-tiny', 'model.safetensors'),
  writeSafetensors([
    { name: 'lm_head.weight', shape: [4, 2], data: new Float32Array(8).fill(0.5) },
    { name: 'x', shape: [], data: new Float32Array([1]) },
  ]),
  ...(HAVE_FIXTURES ? ADAPTER_CASES.map((c) => fixtureBytes(c, 'adapter', 'adapter_model.safetensors')) : []),
];

const LORA_CONFIG = JSON.stringify(LORA_JSON);
const DORA_CONFIG = LORA_CONFIG.replace('"use_dora":false', '"use_dora":true').replace('"use_rslora":false', '"use_rslora":true');
// Llama's module names, not GPT-2's: the fuzz model is dev-tiny.
const VERA_CONFIG = JSON.stringify({ ...VERA_JSON, target_modules: ['q_proj', 'o_proj', 'down_proj'], fan_in_fan_out: false });

interface AdapterSource {
  readonly configJson: string;
  readonly model: ModelConfig;
  /** The adapter file's tensors (header only), when there is one. */
  readonly tensors: Map<string, TensorInfo> | null;
}

const devConfig = parseModelConfig(publicText('public/models/dev-tiny', 'config.json'), 'config.json');
const adapterSources: AdapterSource[] = [
  ...[LORA_CONFIG, DORA_CONFIG, VERA_CONFIG].map((configJson) => ({ configJson, model: devConfig, tensors: null })),
  ...(HAVE_FIXTURES
    ? ADAPTER_CASES.map((c) => ({
        configJson: fixtureText(c, 'adapter', 'adapter_config.json'),
        model: parseModelConfig(fixtureText(c, 'config.json'), 'config.json'),
        tensors: readSafetensorsHeader(fixtureBytes(c, 'adapter', 'adapter_model.safetensors'), 'a').tensors,
      }))
    : []),
];

interface TokenizerSource {
  readonly tokenizerJson: string;
  readonly configJson: string | null;
  readonly vocabSize: number;
}

const tokenizerSources: TokenizerSource[] = [
  {
    tokenizerJson: publicText('public/models/dev-tiny', 'tokenizer.json'),
    configJson: publicText('public/models/dev-tiny', 'tokenizer_config.json'),
    vocabSize: 257,
  },
  { tokenizerJson: chatTokenizerJson(), configJson: QWEN25_CONFIG, vocabSize: CHAT_VOCAB },
  { tokenizerJson: chatTokenizerJson(), configJson: GEMMA3_CONFIG, vocabSize: CHAT_VOCAB },
  { tokenizerJson: sentencePieceTokenizerJson('metaspace'), configJson: SP_TOKENIZER_CONFIG, vocabSize: 64 },
  { tokenizerJson: sentencePieceTokenizerJson('llama2'), configJson: null, vocabSize: 64 },
];

// ---- the parsers under test, each taking one mutated input to a verdict ----------------------

type Outcome = 'accepted' | 'typed';

interface Parser {
  readonly name: string;
  /** One mutated input: a description and a thunk that runs the parser (and checks an accepted result). */
  input(r: Random): { what: string; run: () => Outcome };
}

const shapeSize = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

const PARSERS: readonly Parser[] = [
  {
    name: 'safetensors',
    input(r) {
      const m = mutateSafetensors(pick(r, safetensorsSources), r);
      return {
        what: m.names.join(' + '),
        run: () => {
          const parsed = parseSafetensors(m.bytes, 'model.safetensors');
          for (const [name, t] of parsed.tensors) {
            if (t.data.length !== shapeSize(t.shape))
              throw new Error(`accepted tensor ${name} has ${t.data.length} values for shape ${t.shape}`);
          }
          return 'accepted';
        },
      };
    },
  },
  {
    name: 'config.json (+ weights cross-check)',
    input(r) {
      const src = pick(r, modelSources);
      const m = mutateJsonFile(src.configJson, r);
      return {
        what: `${src.name}: ${m.names.join(' + ')}`,
        run: () => {
          const config = parseModelConfig(m.text, 'config.json');
          if (config.numLayers > CONFIG_LIMITS.layers || config.maxPositions > CONFIG_LIMITS.positions) throw new Error('limits not held');
          if (expectedWeights(config).length > 32 * CONFIG_LIMITS.layers) throw new Error('expected-weight list is not bounded');
          canonicalizeWeights(config, src.weights, 'model.safetensors');
          return 'accepted';
        },
      };
    },
  },
  {
    name: 'adapter_config.json (+ tensors check)',
    input(r) {
      const src = pick(r, adapterSources);
      const m = mutateJsonFile(src.configJson, r);
      return {
        what: m.names.join(' + '),
        run: () => {
          const spec = parseAdapterConfig(m.text, 'adapter_config.json');
          if (src.tensors) checkAdapterTensors(spec, src.model, src.tensors, 'adapter_model.safetensors');
          else expectedAdapterTensors(spec, src.model, 'adapter_model.safetensors');
          return 'accepted';
        },
      };
    },
  },
  {
    name: 'tokenizer.json + tokenizer_config.json',
    input(r) {
      const src = pick(r, tokenizerSources);
      const mutateConfig = src.configJson !== null && r() < 0.3;
      const m = mutateJsonFile(mutateConfig ? src.configJson! : src.tokenizerJson, r);
      const tokenizerJson = mutateConfig ? src.tokenizerJson : m.text;
      const configJson = mutateConfig ? m.text : src.configJson;
      return {
        what: `${mutateConfig ? 'tokenizer_config' : 'tokenizer'}: ${m.names.join(' + ')}`,
        run: () => {
          const tok = loadTokenizer(tokenizerJson, configJson, src.vocabSize);
          if (tok.vocabSize > CONFIG_LIMITS.vocab) throw new Error(`vocabSize ${tok.vocabSize}`);
          return 'accepted';
        },
      };
    },
  },
];

// ---- the run ---------------------------------------------------------------------------------

interface Tally {
  inputs: number;
  accepted: number;
  typedErrors: number;
  other: number;
  slowestMs: number;
  slowest: string;
  peakMemoryMiB: number;
}

const tallies = new Map<string, Tally>();
const failures: string[] = [];

const memory = () => {
  const m = process.memoryUsage();
  return m.rss;
};

function runOne(parser: Parser, what: string, run: () => Outcome, tally: Tally, baseline: number): void {
  tally.inputs++;
  const t0 = performance.now();
  try {
    run();
    tally.accepted++;
  } catch (e) {
    if (e instanceof FormatError) {
      tally.typedErrors++;
      if (e.message.length > MAX_PROBLEM_CHARS + 100) {
        tally.other++;
        failures.push(`${parser.name} [${what}]: a ${e.message.length}-character message`);
      }
    } else {
      tally.other++;
      failures.push(`${parser.name} [${what}]: ${e instanceof Error ? `${e.name}: ${e.message.slice(0, 300)}` : String(e)}`);
    }
  }
  const ms = performance.now() - t0;
  if (ms > tally.slowestMs) {
    tally.slowestMs = ms;
    tally.slowest = what;
  }
  if (ms > TIME_LIMIT_MS) {
    tally.other++;
    failures.push(`${parser.name} [${what}]: took ${Math.round(ms)} ms`);
  }
  const grown = memory() - baseline;
  tally.peakMemoryMiB = Math.max(tally.peakMemoryMiB, Math.round(grown / 2 ** 20));
  if (grown > MEMORY_LIMIT_BYTES) {
    tally.other++;
    failures.push(`${parser.name} [${what}]: memory grew by ${Math.round(grown / 2 ** 20)} MiB`);
  }
}

describe('fuzzed model files', () => {
  for (const [p, parser] of PARSERS.entries()) {
    it(`${parser.name}: ${INPUTS_PER_PARSER} mutated inputs end in a FormatError or a valid result, each within ${TIME_LIMIT_MS} ms`, () => {
      const r = seededRandom(SEED * 1000 + p);
      const tally: Tally = { inputs: 0, accepted: 0, typedErrors: 0, other: 0, slowestMs: 0, slowest: '', peakMemoryMiB: 0 };
      tallies.set(parser.name, tally);
      const baseline = memory();
      // The tokenizer library warns on the console about some bad sections it then ignores.
      const quiet = vi.spyOn(console, 'warn').mockImplementation(() => {});
      try {
        while (tally.inputs < INPUTS_PER_PARSER) {
          const { what, run } = parser.input(r);
          runOne(parser, what, run, tally, baseline);
        }
      } finally {
        quiet.mockRestore();
      }
      expect(failures.filter((x) => x.startsWith(`${parser.name} [`)).slice(0, 10)).toEqual([]);
      expect(tally.other).toBe(0);
      // The mutations must reach both ends: some inputs still valid, most refused.
      expect(tally.accepted).toBeGreaterThan(0);
      expect(tally.typedErrors).toBeGreaterThan(INPUTS_PER_PARSER / 4);
    });
  }

  it('the unmutated sources are all valid', () => {
    for (const b of safetensorsSources) parseSafetensors(b, 'm');
    for (const m of modelSources) canonicalizeWeights(parseModelConfig(m.configJson, 'c'), m.weights, 'w');
    for (const a of adapterSources) {
      const spec = parseAdapterConfig(a.configJson, 'a');
      if (a.tensors) checkAdapterTensors(spec, a.model, a.tensors, 't');
    }
    for (const t of tokenizerSources) loadTokenizer(t.tokenizerJson, t.configJson, t.vocabSize);
  });
});

afterAll(() => {
  const rows = [...tallies].map(([parser, t]) => ({
    parser,
    inputs: t.inputs,
    accepted: t.accepted,
    'typed errors': t.typedErrors,
    'anything else': t.other,
    'slowest ms': Math.round(t.slowestMs),
    'peak RSS growth MiB': t.peakMemoryMiB,
  }));
  console.log(
    markdownTable(
      `model-file fuzz (seed ${SEED}${HAVE_FIXTURES ? ', with the shared fixtures' : ', public/ models only'})`,
      rows,
      failures.length > 0 ? ['failures:', ...failures.slice(0, 30)] : [],
    ),
  );
});
