// Seeded fuzzing of the dataset loader (issue 16): valid files built from the bundled samples,
// mutated (byte flips, truncation, splices, invalid UTF-8, NULs, quotes, delimiters, deep nesting,
// huge lines, BOMs), then taken the studio's way: bytes → datasetText → the worker's parseDataset →
// tokenizePrepared. Every input must end in a DatasetError or a well-formed summary (bad rows
// counted, messages bounded) within a second; anything else fails the test.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/adapters/init';
import { datasetText } from '../../src/data/parse';
import type { TextEncoder as DataEncoder } from '../../src/data/tokenize';
import { CSV_DELIMITERS, DatasetError, LONE_SURROGATE, MAX_PROBLEM_CHARS, MAX_REASON_CHARS } from '../../src/data/types';
import { loadTokenizer } from '../../src/tokenizer/load';
import { parseDataset, tokenizePrepared } from '../../src/worker/dataset';
import type { DatasetSummary } from '../../src/worker/protocol';
import { GEMMA3_CONFIG, chatTokenizerJson } from '../tokenizer/chat-tokenizers';
import { int, markdownTable, pick, type Random } from '../helpers/fuzz';

const INPUTS_PER_FORMAT = 1000;
/** Another seed explores other inputs: DATASET_FUZZ_SEED=7 npx vitest run test/data/fuzz.test.ts */
const SEED = Number(process.env.DATASET_FUZZ_SEED ?? 16);
const TIME_LIMIT_MS = 1000;
const SEQ_LEN = 64;

// ---- valid samples ---------------------------------------------------------------------------

interface Alpaca {
  readonly instruction: string;
  readonly input: string;
  readonly output: string;
}
const alpacaRows: Alpaca[] = readFileSync('public/samples/pirate-instructions.jsonl', 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Alpaca);
const paragraphs = readFileSync('public/samples/ships-log.txt', 'utf8').split(/\n\s*\n/);

const csvField = (s: string, d: string) => (/["\n\r]/.test(s) || s.includes(d) ? `"${s.replace(/"/g, '""')}"` : s);
const jsonl = (rows: readonly object[]) => `${rows.map((o) => JSON.stringify(o)).join('\n')}\n`;

interface Format {
  readonly name: string;
  readonly file: string;
  /** A valid file of a few sample rows. */
  sample(r: Random): string;
}

const some = <T>(r: Random, xs: readonly T[], max: number): T[] => {
  const from = int(r, xs.length);
  return Array.from({ length: 1 + int(r, max) }, (_, i) => xs[(from + i) % xs.length]!);
};

const FORMATS: readonly Format[] = [
  { name: 'txt', file: 'd.txt', sample: (r) => `${some(r, paragraphs, 8).join('\n\n')}\n` },
  { name: 'jsonl text', file: 'd.jsonl', sample: (r) => jsonl(some(r, alpacaRows, 10).map((a) => ({ text: a.output }))) },
  {
    name: 'jsonl prompt/completion',
    file: 'd.jsonl',
    sample: (r) => jsonl(some(r, alpacaRows, 10).map((a) => ({ prompt: a.instruction, completion: a.output }))),
  },
  { name: 'jsonl alpaca', file: 'd.jsonl', sample: (r) => jsonl(some(r, alpacaRows, 10)) },
  {
    name: 'jsonl messages',
    file: 'd.jsonl',
    sample: (r) =>
      jsonl(
        some(r, alpacaRows, 4).map((a) => ({
          messages: [
            ...(r() < 0.3 ? [{ role: 'system', content: 'Talk like a pirate.' }] : []),
            { role: 'user', content: a.instruction },
            { role: 'assistant', content: a.output },
          ],
        })),
      ),
  },
  {
    name: 'json array',
    file: 'd.json',
    sample: (r) => {
      const rows = some(r, alpacaRows, 8);
      return JSON.stringify(r() < 0.5 ? rows : { data: rows.map((a) => ({ prompt: a.instruction, completion: a.output })) });
    },
  },
  {
    name: 'csv',
    file: 'd.csv',
    sample: (r) => {
      const d = pick(r, CSV_DELIMITERS);
      const eol = r() < 0.2 ? '\r\n' : '\n';
      const rows = some(r, alpacaRows, 10).map((a, i) => [String(i), a.instruction, a.output].map((f) => csvField(f, d)).join(d));
      return [['id', 'prompt', 'text'].join(d), ...rows].join(eol) + eol;
    },
  },
];

// ---- mutations -------------------------------------------------------------------------------

const utf8 = (s: string) => new TextEncoder().encode(s);
const INVALID_UTF8: readonly number[][] = [
  [0xff],
  [0xfe],
  [0x80],
  [0xc3],
  [0xc0, 0xaf],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf0, 0x9f, 0x98],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
];
const STRUCTURE = ['"', '""', ',', ';', '\t', '|', '\n', '\r', '\r\n', '{', '}', '[', ']', ':', '\\', '\\u', '\\ud800', '\\u0000', '\n\n'];

function splice(b: Uint8Array, at: number, removeWanted: number, insert: Uint8Array): Uint8Array {
  const remove = Math.min(removeWanted, b.length - at);
  const out = new Uint8Array(b.length - remove + insert.length);
  out.set(b.subarray(0, at));
  out.set(insert, at);
  out.set(b.subarray(at + remove), at + insert.length);
  return out;
}

type Mutation = (b: Uint8Array, r: Random) => Uint8Array;
const MUTATIONS: readonly { name: string; weight: number; apply: Mutation }[] = [
  {
    name: 'byte flips',
    weight: 4,
    apply: (b, r) => {
      const out = b.slice();
      for (let n = 1 + int(r, 8); n > 0 && out.length > 0; n--) out[int(r, out.length)]! ^= 1 << int(r, 8);
      return out;
    },
  },
  {
    name: 'random bytes',
    weight: 2,
    apply: (b, r) =>
      splice(
        b,
        int(r, b.length + 1),
        0,
        Uint8Array.from({ length: 1 + int(r, 16) }, () => int(r, 256)),
      ),
  },
  { name: 'truncation', weight: 3, apply: (b, r) => b.slice(0, int(r, b.length + 1)) },
  {
    name: 'splice',
    weight: 3,
    apply: (b, r) => {
      const from = int(r, b.length + 1);
      const chunk = b.slice(from, from + int(r, 200));
      return splice(b, int(r, b.length + 1), int(r, 50), chunk);
    },
  },
  { name: 'delete range', weight: 2, apply: (b, r) => splice(b, int(r, b.length + 1), int(r, 100), new Uint8Array()) },
  { name: 'invalid UTF-8', weight: 4, apply: (b, r) => splice(b, int(r, b.length + 1), 0, Uint8Array.from(pick(r, INVALID_UTF8))) },
  { name: 'NUL', weight: 2, apply: (b, r) => splice(b, int(r, b.length + 1), 0, new Uint8Array(1 + int(r, 3))) },
  { name: 'structure', weight: 6, apply: (b, r) => splice(b, int(r, b.length + 1), int(r, 2), utf8(pick(r, STRUCTURE))) },
  {
    name: 'deep nesting',
    weight: 0.5,
    apply: (b, r) => {
      const open = pick(r, ['[', '{"a":', '{"messages":[', '{"role":"user","content":']);
      // Up to 100 000 levels, at most 150 000 characters (hostile.test.ts nests a million deep).
      const depth = Math.min(1000 + int(r, 100_000), Math.floor(150_000 / open.length));
      const close = open === '[' ? ']' : open === '{"messages":[' ? ']}' : '}';
      const nest = `${open.repeat(depth)}1${r() < 0.7 ? close.repeat(depth) : ''}`;
      const text = r() < 0.5 ? `{"messages": [${nest}, {"role": "assistant", "content": "x"}]}\n` : nest;
      return splice(b, lineStart(b, int(r, b.length + 1)), 0, utf8(text));
    },
  },
  {
    name: 'huge line',
    weight: 0.5,
    apply: (b, r) => {
      const n = 20_000 + int(r, 180_000);
      const body =
        r() < 0.5
          ? 'x'.repeat(n)
          : Array.from({ length: n / 1000 }, () => pick(r, ['word ', '"', ',', ';', 'é', '\\"']))
              .join('')
              .repeat(200);
      const line = r() < 0.5 ? body : `{"text": "${body}"}`;
      return splice(b, lineStart(b, int(r, b.length + 1)), 0, utf8(`${line}\n`));
    },
  },
  {
    name: 'BOM',
    weight: 1,
    apply: (b, r) =>
      splice(
        b,
        0,
        0,
        Uint8Array.from(
          pick(r, [
            [0xef, 0xbb, 0xbf],
            [0xff, 0xfe],
            [0xfe, 0xff],
          ]),
        ),
      ),
  },
];
const TOTAL_WEIGHT = MUTATIONS.reduce((n, m) => n + m.weight, 0);

function weighted(at: number): (typeof MUTATIONS)[number] {
  let left = at;
  for (const m of MUTATIONS) {
    left -= m.weight;
    if (left < 0) return m;
  }
  return MUTATIONS[0]!;
}

function lineStart(b: Uint8Array, at: number): number {
  while (at > 0 && b[at - 1] !== 0x0a) at--;
  return at;
}

function mutate(b: Uint8Array, r: Random): { bytes: Uint8Array; names: string[] } {
  const names: string[] = [];
  for (let n = 1 + int(r, 3); n > 0; n--) {
    const m = weighted(r() * TOTAL_WEIGHT);
    b = m.apply(b, r);
    names.push(m.name);
  }
  return { bytes: b, names };
}

// ---- the pipeline and what a valid outcome is ------------------------------------------------

/** One token per UTF-16 code unit (fast at any length); chats through Gemma 3's template, which refuses some. */
const gemma = loadTokenizer(chatTokenizerJson(), GEMMA3_CONFIG);
const chars: DataEncoder = {
  encode: (t) => {
    const ids = new Array<number>(t.length);
    for (let i = 0; i < t.length; i++) ids[i] = t.charCodeAt(i);
    return ids;
  },
  eosId: 0,
  renderChat: (m, g) => gemma.renderChat(m, g),
  endOfTurn: gemma.endOfTurn,
};

const clean = (s: string) => !LONE_SURROGATE.test(s) && !s.includes('\0') && !s.includes('\uFFFD');

/** Why an outcome is not a valid one, or null. */
function problemWith(summary: DatasetSummary): string | null {
  if (summary.examples < 1) return 'no examples but no DatasetError';
  for (const b of [...summary.badRows, ...summary.tooLong]) {
    if (!Number.isInteger(b.row) || b.row < 1) return `bad row number ${b.row}`;
    if (b.reason.length > MAX_REASON_CHARS || LONE_SURROGATE.test(b.reason)) return `unbounded reason (${b.reason.length} chars)`;
  }
  for (const p of summary.preview) if (!clean(p.prompt) || !clean(p.answer)) return `preview of row ${p.row} holds invalid text`;
  if (summary.format === 'csv') {
    if (summary.csvDelimiter === undefined) return 'csv without its delimiter';
    if (summary.column === null || !summary.columns.includes(summary.column)) return 'csv column not among the columns';
  }
  return null;
}

interface Tally {
  inputs: number;
  accepted: number;
  typedErrors: number;
  other: number;
  badRows: number;
  slowestMs: number;
  slowest: string;
}
const tallies = new Map<string, Tally>();
const failures: string[] = [];

function runOne(format: Format, bytes: Uint8Array, what: string, tally: Tally): void {
  tally.inputs++;
  const t0 = performance.now();
  try {
    const text = datasetText(format.file, bytes);
    const prepared = parseDataset(format.file, text, null);
    const summary = tokenizePrepared(
      prepared,
      chars,
      2048,
      { seqLen: SEQ_LEN, valFraction: 0.1, seed: 1, maxSamples: 0 },
      { truncation: 'right', chatTemplate: 'model' },
    );
    const problem = problemWith(summary);
    const bad = [...prepared.train, ...prepared.val].find((s) => s.ids.length > SEQ_LEN || s.ids.some((id) => !Number.isInteger(id)));
    if (problem !== null || bad) {
      tally.other++;
      failures.push(`${format.name} [${what}]: ${problem ?? 'malformed sequence'}`);
    } else {
      tally.accepted++;
      tally.badRows += summary.badRows.length;
    }
  } catch (e) {
    if (e instanceof DatasetError && e.message.length <= MAX_PROBLEM_CHARS + 250 && !LONE_SURROGATE.test(e.message)) {
      tally.typedErrors++;
    } else {
      tally.other++;
      failures.push(`${format.name} [${what}]: ${(e as Error).name}: ${(e as Error).message.slice(0, 200)}`);
    }
  }
  const ms = performance.now() - t0;
  if (ms > tally.slowestMs) {
    tally.slowestMs = ms;
    tally.slowest = what;
  }
  if (ms > TIME_LIMIT_MS) {
    tally.other++;
    failures.push(`${format.name} [${what}]: took ${Math.round(ms)} ms`);
  }
}

describe('fuzzed dataset files', () => {
  for (const [f, format] of FORMATS.entries()) {
    it(`${format.name}: ${INPUTS_PER_FORMAT} mutated files end in a DatasetError or a valid summary, each within ${TIME_LIMIT_MS} ms`, () => {
      const r = seededRandom(SEED * 1000 + f);
      const tally: Tally = { inputs: 0, accepted: 0, typedErrors: 0, other: 0, badRows: 0, slowestMs: 0, slowest: '' };
      tallies.set(format.name, tally);
      // The unmutated samples must load (and do, with no bad rows).
      const valid = utf8(format.sample(r));
      runOne(format, valid, 'valid sample', tally);
      expect(tally.accepted).toBe(1);
      expect(tally.badRows).toBe(0);
      while (tally.inputs < INPUTS_PER_FORMAT) {
        const { bytes, names } = mutate(utf8(format.sample(r)), r);
        runOne(format, bytes, names.join(' + '), tally);
      }
      expect(failures.filter((x) => x.startsWith(`${format.name} [`)).slice(0, 10)).toEqual([]);
      expect(tally.other).toBe(0);
    });
  }
});

afterAll(() => {
  const rows = [...tallies].map(([format, t]) => ({
    format,
    inputs: t.inputs,
    accepted: t.accepted,
    'typed errors': t.typedErrors,
    'anything else': t.other,
    'bad rows counted': t.badRows,
    'slowest ms': Math.round(t.slowestMs),
    'slowest input': t.slowest,
  }));
  console.log(markdownTable(`dataset fuzz (seed ${SEED})`, rows));
});
