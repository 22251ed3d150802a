/** The studio's dataset: the parsed file, tokenized with the model's tokenizer into train and validation sequences, and its summary for the page. */
import { splitTrainVal } from '../data/batches';
import { lengthStats } from '../data/lengths';
import { parseDatasetFile } from '../data/parse';
import {
  exampleParts,
  fitExample,
  tokenizeDataset,
  tokenizeRecord,
  type TextEncoder as DataEncoder,
  type TokenSequence,
} from '../data/tokenize';
import { clipMessage, type DatasetRecord, MAX_REASON_CHARS, type ParsedDataset } from '../data/types';
import type { DatasetOptions, DatasetSummary, ExamplePreview } from './protocol';

export interface PreparedDataset {
  readonly fileName: string;
  readonly parsed: ParsedDataset;
  train: TokenSequence[];
  val: TokenSequence[];
}

/** How the dataset is cut into sequences; `maxSamples` (0: all) keeps only its first examples, as LLaMA-Factory's max_samples does. */
export interface TokenizeParams {
  readonly seqLen: number;
  readonly valFraction: number;
  readonly seed: number;
  readonly maxSamples: number;
}

const PREVIEW_COUNT = 5;

/** Parses the file; it is tokenized once a model is there (tokenizeDataset). */
export function parseDataset(fileName: string, text: string, csvColumn: string | null): PreparedDataset {
  const parsed = parseDatasetFile(fileName, text, csvColumn === null ? {} : { csvColumn });
  return { fileName, parsed, train: [], val: [] };
}

/** Tokenizes and splits `d` (its train and val are replaced) and returns what the page shows of it. */
export function tokenizePrepared(
  d: PreparedDataset,
  tokenizer: DataEncoder,
  maxPositions: number,
  p: TokenizeParams,
  options: DatasetOptions,
): DatasetSummary {
  const { seqLen, valFraction, seed, maxSamples } = p;
  const records = maxSamples > 0 ? d.parsed.records.slice(0, maxSamples) : d.parsed.records;
  const tokenized = tokenizeDataset(records, tokenizer, seqLen, { truncation: options.truncation, rows: d.parsed.recordRows });
  const { train, val } = splitTrainVal(tokenized.sequences, valFraction, seed);
  d.train = train;
  d.val = val;
  return {
    fileName: d.fileName,
    format: d.parsed.format,
    examples: d.parsed.records.length,
    badRows: [...d.parsed.badRows, ...tokenized.badRows.map((b) => ({ ...b, reason: `after tokenizing: ${b.reason}` }))].sort(
      (a, b) => a.row - b.row,
    ),
    tooLong: tokenized.tooLong,
    lengths: lengthStats(tokenized.lengths, maxPositions),
    hasChat: d.parsed.records.some((r) => r.kind === 'chat'),
    options,
    preview: d.parsed.records
      .slice(0, PREVIEW_COUNT)
      .map((r, i) => previewOf(r, d.parsed.recordRows[i] ?? i + 1, tokenizer, seqLen, options)),
    trainSequences: train.length,
    valSequences: val.length,
    totalTokens: tokenized.totalTokens,
    truncated: tokenized.truncated,
    seqLen,
    columns: d.parsed.columns,
    column: d.parsed.column,
    ...(d.parsed.format === 'csv' ? { csvDelimiter: d.parsed.delimiter } : {}),
  };
}

/** A row whole, split into what the model reads (prompt) and what it learns (answer), and what becomes of it at seqLen. */
function previewOf(record: DatasetRecord, row: number, tokenizer: DataEncoder, seqLen: number, options: DatasetOptions): ExamplePreview {
  const ex = tokenizeRecord(record, tokenizer);
  const split = exampleParts(record, tokenizer);
  if (typeof ex === 'string') {
    return { row, ...split, promptTokens: 0, completionTokens: 0, status: 'bad', note: clipMessage(ex, MAX_REASON_CHARS) };
  }
  const counts = { promptTokens: ex.promptIds.length, completionTokens: ex.completionIds.length };
  if (record.kind === 'text') return { row, ...split, ...counts, status: 'fits', note: null };
  const fit = fitExample(ex, seqLen, options.truncation);
  if (fit.kind === 'too-long') return { row, ...split, ...counts, status: 'too-long', note: fit.reason };
  if (fit.kind === 'fits') return { row, ...split, ...counts, status: 'fits', note: null };
  const total = ex.promptIds.length + ex.completionIds.length;
  const note =
    fit.promptKept < ex.promptIds.length
      ? `${total} tokens: the first ${ex.promptIds.length - fit.promptKept} prompt tokens are dropped to fit ${seqLen}`
      : `${total} tokens: the answer is cut at ${seqLen}`;
  return { row, ...split, ...counts, status: 'truncated', note };
}
