import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/data/csv';
import { alpacaPrompt, parseDatasetFile, recordFromObject } from '../../src/data/parse';
import { DatasetError } from '../../src/data/types';

describe('txt', () => {
  it('splits paragraphs on blank lines, any line ending', () => {
    const d = parseDatasetFile('a.txt', 'one\r\ntwo\r\n\r\nthree\n \n\nfour\n');
    expect(d.records).toEqual([
      { kind: 'text', text: 'one\ntwo' },
      { kind: 'text', text: 'three' },
      { kind: 'text', text: 'four' },
    ]);
    expect(d.badRows).toEqual([]);
  });
  it('refuses an empty file', () => {
    expect(() => parseDatasetFile('a.txt', ' \n\n')).toThrow(DatasetError);
  });
});

describe('jsonl', () => {
  it('reads every supported shape', () => {
    const lines = [
      { text: 'plain' },
      { prompt: 'P', completion: 'C' },
      { instruction: 'Do', input: 'this', output: 'done' },
      { instruction: 'Do', output: 'done' },
      {
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'hello' },
        ],
      },
    ].map((o) => JSON.stringify(o));
    const d = parseDatasetFile('d.jsonl', lines.join('\n'));
    expect(d.records).toEqual([
      { kind: 'text', text: 'plain' },
      { kind: 'pair', prompt: 'P', completion: 'C' },
      { kind: 'pair', prompt: alpacaPrompt('Do', 'this'), completion: 'done' },
      { kind: 'pair', prompt: alpacaPrompt('Do', ''), completion: 'done' },
      {
        kind: 'chat',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'hello' },
        ],
      },
    ]);
    expect(alpacaPrompt('Do', '')).not.toContain('### Input');
  });
  it('counts malformed rows with their line numbers instead of dropping them silently', () => {
    const text = [
      '{"text": "ok"}',
      '{not json',
      '',
      '[1, 2]',
      '{"prompt": "p"}',
      '{"other": 1}',
      '{"messages": [{"role": "user", "content": "x"}, {"role": "user", "content": "y"}]}',
      '{"text": ""}',
    ].join('\n');
    const d = parseDatasetFile('d.jsonl', text);
    expect(d.records).toHaveLength(1);
    expect(d.badRows.map((b) => b.row)).toEqual([2, 4, 5, 6, 7, 8]);
    expect(d.badRows[0]!.reason).toBe('not valid JSON');
    expect(d.badRows[3]!.reason).toMatch(/no "text"/);
    expect(d.badRows[4]!.reason).toMatch(/last message must be from the assistant/);
  });
  it('refuses a file where every row is bad, naming the first problem', () => {
    expect(() => parseDatasetFile('d.jsonl', '{oops\n{"x":1}\n')).toThrow(/all 2 rows are unusable \(first: row 1: not valid JSON\)/);
  });
});

describe('json', () => {
  it('reads an array or {"data": [...]}', () => {
    expect(parseDatasetFile('d.json', '[{"text":"a"},{"text":"b"}]').records).toHaveLength(2);
    expect(parseDatasetFile('d.json', '{"data":[{"prompt":"a","completion":"b"}]}').records).toEqual([
      { kind: 'pair', prompt: 'a', completion: 'b' },
    ]);
  });
  it('reports bad JSON and bad shapes', () => {
    expect(() => parseDatasetFile('d.json', '[{"text":')).toThrow(/d.json: not valid JSON/);
    expect(() => parseDatasetFile('d.json', '{"text": "x"}')).toThrow(/expected a JSON array/);
    const d = parseDatasetFile('d.json', '[{"text":"a"}, 3, {"completion": 5, "prompt": ""}]');
    expect(d.badRows).toEqual([
      { row: 2, reason: 'not a JSON object' },
      { row: 3, reason: '"completion" must be a non-empty string' },
    ]);
  });
});

describe('csv', () => {
  it('parses quotes, doubled quotes, embedded commas and newlines', () => {
    const { rows } = parseCsv('a,b\n"x, y","say ""hi"""\r\n"multi\nline",z\n');
    expect(rows.map((r) => r.fields)).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['multi\nline', 'z'],
    ]);
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3]);
  });
  it('takes the chosen column, "text" by default, and reports short or empty rows', () => {
    const text = 'id,text,label\n1,hello,a\n2,,b\n3,world\n4,again,c\n';
    const d = parseDatasetFile('d.csv', text);
    expect(d.column).toBe('text');
    expect(d.columns).toEqual(['id', 'text', 'label']);
    expect(d.records).toEqual([
      { kind: 'text', text: 'hello' },
      { kind: 'text', text: 'again' },
    ]);
    expect(d.badRows).toEqual([
      { row: 3, reason: 'column "text" is empty' },
      { row: 4, reason: '2 fields, header has 3' },
    ]);
    expect(parseDatasetFile('d.csv', text, { csvColumn: 'label' }).records).toHaveLength(3);
  });
  it('refuses an unknown column and an unterminated quote', () => {
    expect(() => parseDatasetFile('d.csv', 'a\nx\n', { csvColumn: 'b' })).toThrow(/no column "b"/);
    expect(() => parseDatasetFile('d.csv', 'a\n"x\n')).toThrow(/opened on line 2 is never closed/);
  });
});

it('refuses unknown file types', () => {
  expect(() => parseDatasetFile('d.parquet', '')).toThrow(/unsupported file type ".parquet"/);
});

it('recordFromObject checks alpaca fields', () => {
  expect(recordFromObject({ instruction: '', output: 'x' })).toMatch(/instruction/);
  expect(recordFromObject({ instruction: 'x', input: 3, output: 'x' })).toMatch(/input/);
});
