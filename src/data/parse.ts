/**
 * Dataset files → records. Pure functions: no tokenizer, no DOM.
 *
 * Accepted shapes (JSONL: one object per line; JSON: an array of objects, or {"data": [...]}):
 *   {"text": "..."}                              plain text, learned whole
 *   {"prompt": "...", "completion": "..."}       only the completion is learned
 *   {"instruction", "input"?, "output"}          Alpaca, rendered with ALPACA_TEMPLATE
 *   {"messages": [{"role", "content"}, ...]}     chat; the last message must be the assistant's
 * .txt: paragraphs (separated by blank lines) become text records, packed into sequences later.
 * .csv: a header row, then one text record per row from the chosen column.
 * Every unusable row is reported in badRows with its row number; nothing is dropped silently.
 */
import { parseCsv } from './csv';
import { type BadRow, type ChatMessage, DatasetError, type DatasetFormat, type DatasetRecord, type ParsedDataset } from './types';

/** The Alpaca prompt (Stanford Alpaca's, without the preamble); the output is the completion. */
export function alpacaPrompt(instruction: string, input: string): string {
  return input.trim() === ''
    ? `### Instruction:\n${instruction}\n\n### Response:\n`
    : `### Instruction:\n${instruction}\n\n### Input:\n${input}\n\n### Response:\n`;
}

export interface ParseOptions {
  /** CSV: the column holding the text (default: "text" if present, else the first column). */
  readonly csvColumn?: string;
}

export function datasetFormatOf(fileName: string): DatasetFormat {
  const ext = fileName.toLowerCase().split('.').pop() ?? '';
  if (ext === 'txt' || ext === 'jsonl' || ext === 'json' || ext === 'csv') return ext;
  throw new DatasetError(fileName, `unsupported file type ".${ext}" (use .txt, .jsonl, .json or .csv)`);
}

/**
 * A dataset file's bytes as text. A file that is not UTF-8 text (a PNG renamed .jsonl, a zip, a
 * UTF-16 export) is refused by name, rather than parsed into rows of replacement characters.
 * A UTF-8 byte-order mark is dropped.
 */
export function datasetText(fileName: string, bytes: Uint8Array): string {
  const probe = bytes.subarray(0, 1 << 16);
  if (probe.includes(0)) throw new DatasetError(fileName, 'binary file, not text (it contains NUL bytes; is it an image or an archive?)');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new DatasetError(fileName, 'binary file, not text (it is not valid UTF-8)');
  }
}

export function parseDatasetFile(fileName: string, text: string, options: ParseOptions = {}): ParsedDataset {
  const format = datasetFormatOf(fileName);
  const parsed = parseByFormat(format, fileName, text, options);
  if (parsed.records.length === 0) {
    const why =
      parsed.badRows.length > 0
        ? `all ${parsed.badRows.length} rows are unusable (first: row ${parsed.badRows[0]!.row}: ${parsed.badRows[0]!.reason})`
        : 'the file has no examples';
    throw new DatasetError(fileName, why);
  }
  return parsed;
}

function parseByFormat(format: DatasetFormat, fileName: string, text: string, options: ParseOptions): ParsedDataset {
  switch (format) {
    case 'txt': {
      const records = parseTxt(text);
      return { format, records, recordRows: records.map((_, i) => i + 1), badRows: [], columns: [], column: null };
    }
    case 'jsonl':
      return { format, ...parseJsonl(text), columns: [], column: null };
    case 'json':
      return { format, ...parseJsonArray(fileName, text), columns: [], column: null };
    case 'csv':
      return { format, ...parseCsvDataset(fileName, text, options.csvColumn) };
  }
}

/** Paragraphs separated by blank lines; each becomes one text record. */
export function parseTxt(text: string): DatasetRecord[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => ({ kind: 'text', text: p }));
}

type Collected = { records: DatasetRecord[]; recordRows: number[]; badRows: BadRow[] };

function parseJsonl(text: string): Collected {
  const out: Collected = { records: [], recordRows: [], badRows: [] };
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      out.badRows.push({ row: i + 1, reason: 'not valid JSON' });
      return;
    }
    collect(value, i + 1, out);
  });
  return out;
}

function parseJsonArray(fileName: string, text: string): Collected {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new DatasetError(fileName, `not valid JSON (${(e as Error).message})`);
  }
  const rows = Array.isArray(value) ? value : isObject(value) && Array.isArray(value.data) ? value.data : null;
  if (!rows) throw new DatasetError(fileName, 'expected a JSON array of examples (or {"data": [...]})');
  const out: Collected = { records: [], recordRows: [], badRows: [] };
  for (const [i, row] of rows.entries()) collect(row, i + 1, out);
  return out;
}

function collect(value: unknown, row: number, out: Collected): void {
  const result = recordFromObject(value);
  if (typeof result === 'string') {
    out.badRows.push({ row, reason: result });
  } else {
    out.records.push(result);
    out.recordRows.push(row);
  }
}

/** One JSON example → a record, or the reason it is unusable. */
export function recordFromObject(value: unknown): DatasetRecord | string {
  if (!isObject(value)) return 'not a JSON object';
  if ('messages' in value) return chatRecord(value.messages);
  if ('instruction' in value || 'output' in value) {
    const { instruction, input = '', output } = value;
    if (!isText(instruction)) return '"instruction" must be a non-empty string';
    if (typeof input !== 'string') return '"input" must be a string';
    if (!isText(output)) return '"output" must be a non-empty string';
    return { kind: 'pair', prompt: alpacaPrompt(instruction, input), completion: output };
  }
  if ('prompt' in value || 'completion' in value) {
    const { prompt, completion } = value;
    if (typeof prompt !== 'string') return '"prompt" must be a string';
    if (!isText(completion)) return '"completion" must be a non-empty string';
    return { kind: 'pair', prompt, completion };
  }
  if ('text' in value) return isText(value.text) ? { kind: 'text', text: value.text } : '"text" must be a non-empty string';
  return 'no "text", "prompt"/"completion", "instruction"/"output" or "messages" field';
}

function chatRecord(messages: unknown): DatasetRecord | string {
  if (!Array.isArray(messages) || messages.length < 2) return '"messages" must be a list of at least two messages';
  const out: ChatMessage[] = [];
  for (const [i, m] of messages.entries()) {
    if (!isObject(m) || typeof m.role !== 'string' || typeof m.content !== 'string') {
      return `messages[${i}] must be {"role": string, "content": string}`;
    }
    out.push({ role: m.role, content: m.content });
  }
  if (out[out.length - 1]!.role !== 'assistant') return 'the last message must be from the assistant (it is what gets learned)';
  return { kind: 'chat', messages: out };
}

function parseCsvDataset(fileName: string, text: string, wanted?: string): Omit<ParsedDataset, 'format'> {
  const { rows, unterminatedQuoteAt } = parseCsv(text);
  if (unterminatedQuoteAt !== null)
    throw new DatasetError(fileName, `a quoted field opened on line ${unterminatedQuoteAt} is never closed`);
  const header = rows[0];
  if (!header) throw new DatasetError(fileName, 'the file is empty (expected a header row)');
  const columns = header.fields.map((c) => c.trim());
  const column = wanted ?? (columns.includes('text') ? 'text' : columns[0]!);
  const index = columns.indexOf(column);
  if (index < 0) throw new DatasetError(fileName, `no column ${JSON.stringify(column)} (columns: ${columns.join(', ')})`);
  const records: DatasetRecord[] = [];
  const recordRows: number[] = [];
  const badRows: BadRow[] = [];
  for (const row of rows.slice(1)) {
    if (row.fields.length !== columns.length) {
      badRows.push({ row: row.line, reason: `${row.fields.length} fields, header has ${columns.length}` });
    } else if (row.fields[index]!.trim() === '') {
      badRows.push({ row: row.line, reason: `column ${JSON.stringify(column)} is empty` });
    } else {
      records.push({ kind: 'text', text: row.fields[index]! });
      recordRows.push(row.line);
    }
  }
  return { records, recordRows, badRows, columns, column };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isText(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}
