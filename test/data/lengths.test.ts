import { describe, expect, it } from 'vitest';
import { defaultChatTemplate } from '../../src/data/chat-template';
import { lengthStats, percentile, suggestedSeqLen } from '../../src/data/lengths';
import { datasetText, parseDatasetFile } from '../../src/data/parse';
import { exampleParts, fitExample, tokenizeDataset, type TextEncoder } from '../../src/data/tokenize';
import type { DatasetRecord } from '../../src/data/types';

const chars: TextEncoder = {
  encode: (t) => [...t].map((c) => c.charCodeAt(0)),
  eosId: 0,
  renderChat: (m, g) => defaultChatTemplate(m, g, '<e>'),
  endOfTurn: '<e>',
};
const pair = (prompt: string, completion: string): DatasetRecord => ({ kind: 'pair', prompt, completion });

describe('row lengths', () => {
  it('nearest-rank percentiles, the 95 % length rounded up to 8 and capped by the positions', () => {
    const lengths = Array.from({ length: 20 }, (_, i) => i + 1); // 1..20
    expect(percentile(lengths, 0.5)).toBe(10);
    expect(percentile(lengths, 0.95)).toBe(19);
    const s = lengthStats(lengths, 256)!;
    expect([s.rows, s.min, s.median, s.p95, s.max, s.suggestedSeqLen]).toEqual([20, 1, 10, 19, 20, 24]);
    expect(s.bins.reduce((n, b) => n + b.count, 0)).toBe(20);
    expect(s.bins[0]!.from).toBe(1);
    expect(s.bins.at(-1)!.to).toBe(20);
    expect(lengthStats(lengths, 16)!.suggestedSeqLen).toBe(16);
    expect(suggestedSeqLen(32, 256)).toBe(32);
    expect(suggestedSeqLen(33, 256)).toBe(40);
    expect(lengthStats([], 256)).toBeNull();
    expect(lengthStats([7, 7, 7], 256)!.bins).toEqual([{ from: 7, to: 7, count: 3 }]);
    // One 600-token row among short ones gets a bar of its own instead of squeezing the rest into one.
    const outlier = lengthStats([...Array.from({ length: 39 }, (_, i) => 10 + (i % 10)), 600], 1024)!;
    expect(outlier.p95).toBe(19);
    expect(outlier.bins.at(-1)).toEqual({ from: 25, to: 600, count: 1 });
    expect(outlier.bins.filter((b) => b.count > 0).length).toBeGreaterThan(4);
    expect(outlier.bins.reduce((n, b) => n + b.count, 0)).toBe(40);
  });
});

describe('rows that do not fit', () => {
  const records = [pair('abcdefgh', 'xy'), pair('ab', 'xy'), { kind: 'chat', messages: [{ role: 'user', content: 'q' }] } as DatasetRecord];

  it('are too long (a length choice), apart from bad rows, with their file row', () => {
    const d = tokenizeDataset(records, chars, 6, { rows: [3, 5, 9] });
    expect(d.tooLong).toEqual([{ row: 3, reason: "11 tokens: the prompt's 8 leave no room for the answer in 6" }]);
    expect(d.badRows.map((b) => b.row)).toEqual([9]); // the one-message chat has nothing the template can render as an answer
    expect(d.lengths).toEqual([11, 5]);
    expect(d.sequences).toHaveLength(1);
  });
  it("'prompt-left' drops the start of the prompt and keeps the whole answer", () => {
    const d = tokenizeDataset([pair('abcdefgh', 'xy')], chars, 6, { truncation: 'prompt-left' });
    expect(d.tooLong).toEqual([]);
    expect(d.truncated).toBe(1);
    // 'fgh' + 'xy' + EOS: the prompt's last 3 tokens masked, the whole answer learned
    expect(d.sequences).toEqual([{ ids: [102, 103, 104, 120, 121, 0], labels: [-100, -100, -100, 120, 121, 0] }]);
  });
  it("'prompt-left' keeps one prompt token when the answer alone is longer than the sequence", () => {
    const fit = fitExample({ promptIds: [1, 2, 3], completionIds: [7, 7, 7, 7, 7] }, 4, 'prompt-left');
    expect(fit).toEqual({ kind: 'truncated', promptKept: 1, sequence: { ids: [3, 7, 7, 7], labels: [-100, 7, 7, 7] } });
  });
  it("'right' cuts the end of the answer when the prompt leaves room", () => {
    const fit = fitExample({ promptIds: [1, 2], completionIds: [7, 8, 9] }, 4, 'right');
    expect(fit).toEqual({ kind: 'truncated', promptKept: 2, sequence: { ids: [1, 2, 7, 8], labels: [-100, -100, 7, 8] } });
  });
  it('the preview shows the rendered chat prompt and the answer with its end-of-turn marker, whole', () => {
    const chat: DatasetRecord = {
      kind: 'chat',
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a'.repeat(500) },
      ],
    };
    expect(exampleParts(chat, chars)).toEqual({ prompt: '<|user|>\nq\n<|assistant|>\n', answer: `${'a'.repeat(500)}<e>` });
    expect(exampleParts(pair('p', 'c'), chars)).toEqual({ prompt: 'p', answer: 'c' });
  });
});

describe('dataset files', () => {
  it('records keep the file row they came from', () => {
    const parsed = parseDatasetFile('d.jsonl', '{"text": "a"}\n{bad\n\n{"text": "b"}\n');
    expect(parsed.recordRows).toEqual([1, 4]);
    expect(parseDatasetFile('d.csv', 'text\nx\n\ny\n').recordRows.length).toBe(2);
  });
  it('a binary file is refused as binary, not parsed into rows', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    expect(() => datasetText('picture.jsonl', png)).toThrow('picture.jsonl: binary file, not text');
    expect(() => datasetText('latin1.txt', new Uint8Array([0x63, 0x61, 0x66, 0xe9]))).toThrow(/binary file, not text .*UTF-8/);
    expect(datasetText('ok.txt', new TextEncoder().encode('\ufeffcafé'))).toBe('café');
  });
});
