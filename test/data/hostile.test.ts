// What a hostile tester fed the dataset loader (issue 16): huge lines, binary and invalid UTF-8
// files, other CSV delimiters, deep JSON nesting, broken or refusing chat templates.
import { describe, expect, it } from 'vitest';
import { toTokenBatch } from '../../src/data/batches';
import { detectCsvDelimiter } from '../../src/data/csv';
import { datasetText, parseDatasetBytes, parseDatasetFile } from '../../src/data/parse';
import { type TextEncoder as DataEncoder, tokenizeDataset } from '../../src/data/tokenize';
import { DatasetError, MAX_PROBLEM_CHARS, MAX_REASON_CHARS } from '../../src/data/types';
import { decodeUtf8Escaped } from '../../src/data/utf8';
import { FormatError } from '../../src/formats/errors';
import { loadTokenizer } from '../../src/tokenizer/load';
import { parseDataset, tokenizePrepared } from '../../src/worker/dataset';
import { chatTokenizerJson } from '../tokenizer/chat-tokenizers';

const utf8 = (s: string) => new TextEncoder().encode(s);
const concat = (...parts: (Uint8Array | number[] | string)[]) => {
  const arrays = parts.map((p) => (typeof p === 'string' ? utf8(p) : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
};

/** One token per UTF-16 code unit: a 400 KB paragraph is 400 000 tokens. */
const chars: DataEncoder = {
  encode: (t) => Array.from({ length: t.length }, (_, i) => t.charCodeAt(i)),
  eosId: 0,
  renderChat: (m) => m.map((x) => `${x.role}: ${x.content}\n`).join(''),
  endOfTurn: null,
};

describe('huge inputs', () => {
  it('a 400 KB (and a 2 MB) paragraph tokenizes and packs without exhausting the stack', () => {
    for (const size of [400_000, 2_000_000]) {
      const d = parseDatasetFile('big.txt', `${'word '.repeat(size / 5)}\n\nsmall\n`);
      const t = tokenizeDataset(d.records, chars, 128);
      expect(t.totalTokens).toBe(size - 1 + 1 + 'small'.length + 1);
      expect(t.sequences.length).toBe(Math.ceil(t.totalTokens / 128));
      expect(toTokenBatch(t.sequences.slice(0, 4), 128, 0).inputIds).toHaveLength(4 * 128);
    }
  });

  it('a 1 MB prompt–completion pair is truncated to seqLen without copying it whole', () => {
    const line = JSON.stringify({ prompt: 'p'.repeat(10), completion: 'c'.repeat(1_000_000) });
    const d = parseDatasetFile('big.jsonl', line);
    const t = tokenizeDataset(d.records, chars, 64);
    expect(t.sequences[0]!.ids).toHaveLength(64);
    expect(t.truncated).toBe(1);
  });

  it('deeply nested JSON in a messages field is a bounded bad row, in .jsonl and .json', () => {
    for (const depth of [1_000, 1_000_000]) {
      const deep = '['.repeat(depth) + ']'.repeat(depth);
      const deepObject = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      const lines = [
        `{"messages": [${deep}, {"role": "assistant", "content": "x"}]}`,
        `{"messages": [{"role": "user", "content": ${deepObject}}, {"role": "assistant", "content": "x"}]}`,
        `{"messages": ${deep}}`,
        '{"text": "ok"}',
      ];
      const d = parseDatasetFile('deep.jsonl', lines.join('\n'));
      expect(d.records).toHaveLength(1);
      expect(d.badRows.map((b) => b.row)).toEqual([1, 2, 3]);
      for (const b of d.badRows) expect(b.reason.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
      const j = parseDatasetFile('deep.json', `[${lines.join(',')}]`);
      expect(j.badRows.map((b) => b.row)).toEqual([1, 2, 3]);
    }
  });

  it('messages quoting the data are capped in length', () => {
    const name = 'x'.repeat(100_000);
    const err = catchError(() => parseDatasetFile('d.csv', `a,b\n1,2\n`, { csvColumn: name }));
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message.length).toBeLessThan(MAX_PROBLEM_CHARS + 100);
    const wide = catchError(() => parseDatasetFile('d.csv', `${Array.from({ length: 5000 }, (_, i) => `c${i}`).join(',')}\n`));
    expect(wide.message).toMatch(/5000 columns/);
    expect(wide.message.length).toBeLessThan(MAX_PROBLEM_CHARS + 100);
  });
});

describe('binary and invalid UTF-8', () => {
  const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52];

  it('decodes invalid bytes to unpaired surrogates, valid text exactly as TextDecoder does', () => {
    const bytes = concat('a\u00e9', [0xff], 'b', [0xe2, 0x82], '\n', [0xed, 0xa0, 0x80], '\u{1F600}');
    const { text, invalidBytes } = decodeUtf8Escaped(bytes);
    expect(invalidBytes).toBe(6);
    expect(text).toBe('a\u00e9\udcffb\udce2\udc82\n\udced\udca0\udc80\u{1F600}');
    expect(decodeUtf8Escaped(utf8('\ufeffcaf\u00e9 \u{1F600}')).text).toBe('caf\u00e9 \u{1F600}');
  });

  it('a PNG, a UTF-16 export or a Latin-1 file is refused by name', () => {
    expect(() => parseDatasetBytes('picture.csv', Uint8Array.from(PNG))).toThrow(/^picture\.csv: binary file/);
    expect(() => parseDatasetBytes('picture.csv', concat([0x89], 'PNG\r\n', [0x1a], '\nIHDR garbage\n'))).toThrow(
      /^picture\.csv: the header row \(line 1\): not valid UTF-8.*is this a CSV file\?$/,
    );
    expect(() => datasetText('u16.jsonl', Uint8Array.from([0xff, 0xfe, 0x7b, 0, 0x7d, 0]))).toThrow(/UTF-16/);
    const latin1 = concat('text\n', 'caf', [0xe9], '\n', 'na', [0xef], 've\n', 'r', [0xe9], 'sum', [0xe9], '\n');
    expect(() => parseDatasetBytes('latin1.csv', latin1)).toThrow(/Latin-1/);
  });

  it('text a lossy decoder turned into U+FFFD is refused too (the "\uFFFDPNG" column)', () => {
    expect(() => parseDatasetFile('picture.csv', '\uFFFDPNG\r\n\u001a\n')).toThrow(/^picture\.csv: binary file/);
    expect(() => parseDatasetFile('table.csv', `\uFFFDid,text\n${'1,fine\n'.repeat(20)}`)).toThrow(
      /^table\.csv: the header row \(line 1\): contains U\+FFFD/,
    );
    expect(() => parseDatasetFile('picture.csv', '\uFFFDPNG\r\n\u001a\n\uFFFD\uFFFD\n\u0001\uFFFD\n')).toThrow(
      /^picture\.csv: binary file/,
    );
  });

  it('a few invalid lines are bad rows with their line numbers, in every format', () => {
    const jsonl = concat('{"text": "one"}\n{"text": "tw', [0xc3, 0x28], 'o"}\n{"text": "three"}\n{"text": "four"}\n');
    const j = parseDatasetBytes('d.jsonl', jsonl);
    expect(j.records).toHaveLength(3);
    expect(j.badRows).toEqual([{ row: 2, reason: expect.stringMatching(/not valid UTF-8/) }]);

    const csv = concat('id,text\n1,fine\n2,"multi\nline ', [0xff], '"\n3,ok\n4,ok\n');
    const c = parseDatasetBytes('d.csv', csv);
    expect(c.records.map((r) => (r.kind === 'text' ? r.text : ''))).toEqual(['fine', 'ok', 'ok']);
    expect(c.badRows).toEqual([{ row: 3, reason: expect.stringMatching(/not valid UTF-8/) }]);

    const txt = concat('first\n\nsecond\nstill ', [0xf0, 0x9f], ' second\n\nthird\n\nfourth');
    const t = parseDatasetBytes('d.txt', txt);
    expect(t.records).toHaveLength(3);
    expect(t.badRows).toEqual([{ row: 2, reason: expect.stringMatching(/not valid UTF-8.*\(line 4\)$/) }]);

    const json = concat('[{"text": "a"}, {"text": "b', [0x80], '"}, {"text": "c"}]');
    expect(parseDatasetBytes('d.json', json).badRows).toEqual([{ row: 2, reason: expect.stringMatching(/not valid UTF-8/) }]);
  });

  it('a NUL byte near the start makes the file binary; one further on makes its row bad', () => {
    const head = '{"text": "a line of ordinary text"}\n'.repeat(2000);
    expect(() => parseDatasetBytes('d.jsonl', concat('{"text": "x"}\n', [0], '\n', head))).toThrow(/^d\.jsonl: binary file.*NUL/);
    const d = parseDatasetBytes('d.txt', concat(head, '\nbad ', [0], ' paragraph\n\nlast paragraph\n'));
    expect(d.records).toHaveLength(2);
    expect(d.badRows).toEqual([{ row: 2, reason: expect.stringMatching(/NUL character.*\(line 2002\)$/) }]);
  });

  it('unpaired surrogate escapes, NUL characters and U+FFFD in a row make it bad', () => {
    const lines = [
      '{"text": "\\ud800 lone"}',
      '{"prompt": "a\\u0000b", "completion": "c"}',
      '{"text": "bad \uFFFD char"}',
      '{"text": "ok"}',
    ];
    const d = parseDatasetFile('d.jsonl', lines.join('\n'));
    expect(d.badRows.map((b) => b.row)).toEqual([1, 2, 3]);
    expect(d.badRows[1]!.reason).toMatch(/NUL/);
  });
});

describe('CSV delimiters', () => {
  it('detects comma, semicolon, tab and pipe from the header and first rows', () => {
    expect(detectCsvDelimiter('text,label\nhello; there,1\n')).toBe(',');
    expect(detectCsvDelimiter('text;label\nhello, there;1\n')).toBe(';');
    expect(detectCsvDelimiter('text\tlabel\nhello, there\t1\n')).toBe('\t');
    expect(detectCsvDelimiter('text|label\nhello, there|1\n')).toBe('|');
    expect(detectCsvDelimiter('"a;b",c\n"x;y",z\n')).toBe(',');
    expect(detectCsvDelimiter('text\nhello\n')).toBeNull();
  });

  it('a ;-separated file is read as columns, and the summary says which delimiter was used', () => {
    const text = 'text;label\n"hello, there";pos\nbye;neg\n';
    const d = parseDatasetFile('semi.csv', text);
    expect(d.columns).toEqual(['text', 'label']);
    expect(d.delimiter).toBe(';');
    expect(d.records).toEqual([
      { kind: 'text', text: 'hello, there' },
      { kind: 'text', text: 'bye' },
    ]);
    const summary = tokenizePrepared(
      parseDataset('semi.csv', text, null),
      chars,
      64,
      { seqLen: 16, valFraction: 0, seed: 1, maxSamples: 0 },
      {
        truncation: 'right',
        chatTemplate: 'model',
      },
    );
    expect(summary.csvDelimiter).toBe(';');
    expect(
      tokenizePrepared(
        parseDataset('one.csv', 'text\na\nb\n', null),
        chars,
        64,
        { seqLen: 16, valFraction: 0, seed: 1, maxSamples: 0 },
        {
          truncation: 'right',
          chatTemplate: 'model',
        },
      ).csvDelimiter,
    ).toBeNull();
    expect(parseDatasetFile('tab.tsv.csv', 'a\ttext\n1\tx\n').records).toEqual([{ kind: 'text', text: 'x' }]);
  });

  it('CRLF and CR line ends, blank lines and malformed quotes', () => {
    const d = parseDatasetFile('d.csv', 'text,n\r\na,1\r\n\r\nb,2\rc,3\r\n"d"x,4\n"e",5\n');
    expect(d.records.map((r) => (r.kind === 'text' ? r.text : ''))).toEqual(['a', 'b', 'c']);
    expect(d.recordRows).toEqual([2, 4, 5]);
    expect(d.badRows).toEqual([{ row: 6, reason: expect.stringMatching(/^malformed quotes/) }]);
    expect(() => parseDatasetFile('d.csv', 'text,n\na,1\n"b"x,2\nc,3\n')).toThrow(/line 3 .*never closed/);
    expect(() => parseDatasetFile('d.csv', 'text,n\na,1\n"open,2\nmore,3\n')).toThrow(/opened on line 3 is never closed/);
  });
});

describe('chat templates', () => {
  const config = (template: string) => JSON.stringify({ chat_template: template, eos_token: '<eos>' });
  const chat = (content: string) => ({
    kind: 'chat' as const,
    messages: [
      { role: 'user', content },
      { role: 'assistant', content: 'answer' },
    ],
  });

  it('a template that does not parse fails the tokenizer load with a typed error', () => {
    expect(() => loadTokenizer(chatTokenizerJson(), config('{% if %}'))).toThrow(FormatError);
  });

  it('raise_exception and runtime errors make that row bad; tokenization goes on', () => {
    const refusing = loadTokenizer(
      chatTokenizerJson(),
      config(
        "{% for m in messages %}{% if m['content'][:2] == 'no' %}{{ raise_exception('refused: ' + m['content']) }}{% endif %}" +
          "{% if m['content'] == 'boom' %}{{ m['content'].nope() }}{% endif %}{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endfor %}",
      ),
    );
    const t = tokenizeDataset([chat('yes'), chat(`no${'!'.repeat(100_000)}`), chat('boom'), chat('fine')], refusing, 64);
    expect(t.sequences).toHaveLength(2);
    expect(t.badRows.map((b) => b.row)).toEqual([2, 3]);
    expect(t.badRows[0]!.reason).toMatch(/^the chat template refused this conversation: refused: no/);
    for (const b of t.badRows) expect(b.reason.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
  });
});

function catchError(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}
