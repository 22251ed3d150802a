/**
 * Dataset files → records. Pure functions: no tokenizer, no DOM.
 *
 * Accepted shapes (JSONL: one object per line; JSON: an array of objects, or {"data": [...]}):
 *   {"text": "..."}                              plain text, learned whole
 *   {"prompt": "...", "completion": "..."}       only the completion is learned
 *   {"instruction", "input"?, "output"}          Alpaca, rendered with ALPACA_TEMPLATE
 *   {"messages": [{"role", "content"}, ...]}     chat; the last message must be the assistant's
 * .txt: paragraphs (separated by blank lines) become text records, packed into sequences later.
 * .csv: a header row, then one text record per row from the chosen column; the delimiter (comma,
 *   semicolon, tab or pipe) is detected from the first lines.
 * Text that cannot be trained on (bytes that are not UTF-8, NUL, U+FFFD) makes its row bad; a file
 * that is mostly not UTF-8 text is refused as a whole. Every unusable row is reported in badRows
 * with its row number; nothing is dropped silently. Messages quoting the data are capped in length.
 */
import { type CsvRow, delimiterName, detectCsvDelimiter, forEachCsvRow } from './csv';
import {
  type BadRow,
  type ChatMessage,
  clipMessage,
  DatasetError,
  type DatasetFormat,
  type DatasetRecord,
  LONE_SURROGATE,
  MAX_REASON_CHARS,
  type ParsedDataset,
} from './types';
import { decodeUtf8Escaped, textProblem } from './utf8';

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

/** How much of the start of a file is looked at to tell text from binary. */
const PROBE = 1 << 16;
const INVALID_G = new RegExp(`${LONE_SURROGATE.source}|\uFFFD`, 'g');

/**
 * A dataset file's bytes as text. A file that is not text (a PNG renamed .csv, a zip, a UTF-16
 * export) is refused by name, rather than parsed into rows of replacement characters. A text file
 * with a few bytes that are not UTF-8 is kept: those bytes become unpaired surrogates (see utf8.ts),
 * and the rows holding them are bad rows with their line numbers. A UTF-8 byte-order mark is dropped.
 */
export function datasetText(fileName: string, bytes: Uint8Array): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new DatasetError(fileName, 'UTF-16 text (it starts with a UTF-16 byte-order mark); save it as UTF-8');
  }
  if (bytes.subarray(0, PROBE).includes(0)) {
    throw new DatasetError(fileName, 'binary file, not text (it contains NUL bytes; is it an image or an archive?)');
  }
  const { text } = decodeUtf8Escaped(bytes);
  assertText(fileName, text);
  return text;
}

/** datasetText, then parseDatasetFile. */
export function parseDatasetBytes(fileName: string, bytes: Uint8Array, options: ParseOptions = {}): ParsedDataset {
  return parseDatasetFile(fileName, datasetText(fileName, bytes), options);
}

/**
 * Refuses text that is not a dataset at all: NUL characters near the start (binary data), or more
 * than half of the first lines not valid UTF-8 (a binary file, or text in another encoding).
 */
function assertText(fileName: string, text: string): void {
  const probe = text.slice(0, PROBE);
  if (probe.includes('\0'))
    throw new DatasetError(fileName, 'binary file, not text (it contains NUL bytes; is it an image or an archive?)');
  let lines = 0;
  let bad = 0;
  let first = 0;
  for (const [i, line] of probe.split('\n').entries()) {
    if (line.trim() === '') continue;
    lines++;
    if (LONE_SURROGATE.test(line) || line.includes('\uFFFD')) {
      bad++;
      if (first === 0) first = i + 1;
    }
  }
  const invalidChars = bad === 0 ? 0 : (probe.match(INVALID_G)?.length ?? 0);
  // Most of several lines, or over 5 % of the characters: not a text with a few bad rows.
  if (bad > 0 && ((lines >= 4 && bad * 2 > lines) || invalidChars > probe.length * 0.05)) {
    throw new DatasetError(
      fileName,
      `binary file, not text (it is not valid UTF-8: ${bad} of the first ${lines} lines are not, the first is line ${first}). ` +
        'If it is text in another encoding (Latin-1, Windows-1252), save it as UTF-8.',
    );
  }
}

export function parseDatasetFile(fileName: string, text: string, options: ParseOptions = {}): ParsedDataset {
  const format = datasetFormatOf(fileName);
  assertText(fileName, text);
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
  const notCsv = { columns: [], column: null, delimiter: null };
  switch (format) {
    case 'txt':
      return { format, ...parseTxtRows(text), ...notCsv };
    case 'jsonl':
      return { format, ...parseJsonl(text), ...notCsv };
    case 'json':
      return { format, ...parseJsonArray(fileName, text), ...notCsv };
    case 'csv':
      return { format, ...parseCsvDataset(fileName, text, options.csvColumn) };
  }
}

type Collected = { records: DatasetRecord[]; recordRows: number[]; badRows: BadRow[] };

function badRow(row: number, reason: string): BadRow {
  return { row, reason: clipMessage(reason, MAX_REASON_CHARS) };
}

/** Paragraphs separated by blank lines; each becomes one text record. */
export function parseTxt(text: string): DatasetRecord[] {
  return parseTxtRows(text).records;
}

/**
 * Paragraphs (lines up to a blank or whitespace-only one), numbered from 1; one holding text that
 * cannot be trained on (invalid UTF-8, NUL) is a bad row, its reason naming the line.
 */
function parseTxtRows(text: string): Collected {
  const out: Collected = { records: [], recordRows: [], badRows: [] };
  const lines = (text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text).split('\n');
  let paragraph = 0;
  let from = -1;
  const flush = (to: number) => {
    if (from < 0) return;
    const body = lines.slice(from, to);
    const p = body.join('\n').trim();
    if (p !== '') {
      paragraph++;
      const problem = textProblem(p);
      if (problem === null) {
        out.records.push({ kind: 'text', text: p });
        out.recordRows.push(paragraph);
      } else {
        const badLine = Math.max(
          0,
          body.findIndex((l) => textProblem(l) !== null),
        );
        out.badRows.push(badRow(paragraph, `${problem} (line ${from + 1 + badLine})`));
      }
    }
    from = -1;
  };
  for (const [i, line] of lines.entries()) {
    if (BLANK.test(line)) flush(i);
    else if (from < 0) from = i;
  }
  flush(lines.length);
  return out;
}

const BLANK = /^\s*$/;

function parseJsonl(text: string): Collected {
  const out: Collected = { records: [], recordRows: [], badRows: [] };
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const problem = textProblem(line);
    if (problem !== null) {
      out.badRows.push(badRow(i + 1, problem));
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      out.badRows.push(badRow(i + 1, e instanceof SyntaxError ? 'not valid JSON' : `could not be read as JSON (${(e as Error).message})`));
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
    const problem = textProblem(text.slice(0, PROBE));
    throw new DatasetError(fileName, `not valid JSON (${(e as Error).message})${problem === null ? '' : `; the text: ${problem}`}`);
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
    out.badRows.push(badRow(row, result));
    return;
  }
  const problem = recordProblem(result);
  if (problem !== null) {
    out.badRows.push(badRow(row, problem));
    return;
  }
  out.records.push(result);
  out.recordRows.push(row);
}

/** Why a record's text cannot be trained on (see textProblem), or null. */
function recordProblem(r: DatasetRecord): string | null {
  switch (r.kind) {
    case 'text':
      return textProblem(r.text);
    case 'pair':
      return textProblem(r.prompt) ?? textProblem(r.completion);
    case 'chat':
      for (const [i, m] of r.messages.entries()) {
        const problem = textProblem(m.role) ?? textProblem(m.content);
        if (problem !== null) return `messages[${i}]: ${problem}`;
      }
      return null;
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

/** More header columns than this is not a dataset table (and would not fit a column picker). */
const MAX_CSV_COLUMNS = 1000;

/**
 * A header row, then rows streamed one at a time through Papa Parse with the detected delimiter;
 * only the chosen column's text is kept.
 */
function parseCsvDataset(fileName: string, text: string, wanted?: string): Omit<ParsedDataset, 'format'> {
  const delimiter = detectCsvDelimiter(text);
  const separated = delimiter === null ? 'one column' : `${delimiterName(delimiter)}-separated`;
  let columns: string[] | null = null;
  let column = '';
  let index = -1;
  let headerError: string | null = null;
  const records: DatasetRecord[] = [];
  const recordRows: number[] = [];
  const badRows: BadRow[] = [];
  const onHeader = (row: CsvRow): string | null => {
    if (row.malformedQuotes) return `the header row (line ${row.line}) has malformed quotes`;
    const problem = row.fields.map(textProblem).find((p) => p !== null);
    if (problem) return `the header row (line ${row.line}): ${problem}; is this a CSV file?`;
    if (row.fields.length > MAX_CSV_COLUMNS)
      return `the header row has ${row.fields.length} columns (${separated}); is this a CSV dataset?`;
    columns = row.fields.map((c) => c.trim());
    column = wanted ?? (columns.includes('text') ? 'text' : columns[0]!);
    index = columns.indexOf(column);
    if (index < 0) return `no column ${JSON.stringify(column)} (columns, ${separated}: ${columns.join(', ')})`;
    return null;
  };
  const { unterminatedQuoteAt } = forEachCsvRow(text, delimiter ?? ',', (row) => {
    if (columns === null) {
      headerError = onHeader(row);
      return headerError === null;
    }
    const width = columns.length;
    let reason: string | null = null;
    if (row.malformedQuotes) reason = 'malformed quotes (a " inside an unquoted field, or text after a closing quote)';
    else if (row.fields.length !== width) reason = `${row.fields.length} fields, header has ${width}`;
    else reason = row.fields.map(textProblem).find((p) => p !== null) ?? null;
    if (reason === null && row.fields[index]!.trim() === '') reason = `column ${JSON.stringify(column)} is empty`;
    if (reason !== null) {
      badRows.push(badRow(row.line, reason));
    } else {
      records.push({ kind: 'text', text: row.fields[index]! });
      recordRows.push(row.line);
    }
    return true;
  });
  if (headerError !== null) throw new DatasetError(fileName, headerError);
  if (unterminatedQuoteAt !== null) {
    const { line, malformed } = unterminatedQuoteAt;
    throw new DatasetError(
      fileName,
      malformed
        ? `line ${line} has text after a closing quote (or a " inside an unquoted field), so its quoted field is never closed`
        : `a quoted field opened on line ${line} is never closed`,
    );
  }
  if (columns === null) throw new DatasetError(fileName, 'the file is empty (expected a header row)');
  return { records, recordRows, badRows, columns, column, delimiter };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isText(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}
