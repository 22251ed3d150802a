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
}

/** Thrown when a whole file is unusable (unknown extension, no rows at all, bad CSV header). */
export class DatasetError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'DatasetError';
  }
}
