/** One training example as read from a dataset file, before tokenization. */
export type DatasetRecord =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'pair'; readonly prompt: string; readonly completion: string }
  | { readonly kind: 'chat'; readonly messages: readonly ChatMessage[] };

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** A row that could not be used, with its 1-based row (line) number and the reason. */
export interface BadRow {
  readonly row: number;
  readonly reason: string;
}

export type DatasetFormat = 'txt' | 'jsonl' | 'json' | 'csv';

export interface ParsedDataset {
  readonly format: DatasetFormat;
  readonly records: DatasetRecord[];
  /** The 1-based row (line, paragraph or CSV line) each record came from. */
  readonly recordRows: number[];
  readonly badRows: BadRow[];
  /** CSV only: the header's column names, for the column picker. */
  readonly columns: string[];
  /** CSV only: the column the text was taken from. */
  readonly column: string | null;
  /** CSV only: the delimiter detected from the first lines; null for a single-column file (and other formats). */
  readonly delimiter: CsvDelimiter | null;
}

export type CsvDelimiter = ',' | ';' | '\t' | '|';

/** The delimiters a CSV file may use, in the order detection prefers them on a tie. */
export const CSV_DELIMITERS: readonly CsvDelimiter[] = [',', ';', '\t', '|'];

/** The delimiter in words, for messages: "comma", "semicolon", "tab", "pipe". */
export function delimiterName(d: CsvDelimiter): string {
  return { ',': 'comma', ';': 'semicolon', '\t': 'tab', '|': 'pipe' }[d];
}

/** Longest bad-row reason and file-level problem kept: a message quotes the data, which may be anything. */
export const MAX_REASON_CHARS = 300;
export const MAX_PROBLEM_CHARS = 600;

/**
 * `s` for a message: at most `max` characters (an ellipsis marks the cut), and unpaired surrogates
 * (what invalid UTF-8 decodes to here) shown as U+FFFD.
 */
export function clipMessage(s: string, max: number): string {
  const clipped = s.length > max ? `${s.slice(0, max - 1)}…` : s;
  return clipped.replace(LONE_SURROGATE_G, '\uFFFD');
}

/** One unpaired UTF-16 surrogate (no u flag: the pattern sees code units). */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATE_G = new RegExp(LONE_SURROGATE.source, 'g');

/** Thrown when a whole file is unusable (unknown extension, no rows at all, bad CSV header, binary). */
export class DatasetError extends Error {
  readonly file: string;
  readonly problem: string;
  constructor(file: string, problem: string) {
    const f = clipMessage(file, 200);
    const p = clipMessage(problem, MAX_PROBLEM_CHARS);
    super(`${f}: ${p}`);
    this.file = f;
    this.problem = p;
    this.name = 'DatasetError';
  }
}
