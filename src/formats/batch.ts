/**
 * A token batch as JSON: {"input_ids": [[...], ...], "labels": [[...], ...]} ([batch][seq]).
 * Labels follow transformers: the loss at position t is taken against labels[t + 1], and -100
 * marks a position to ignore. Without labels, the inputs themselves are the targets.
 */
import { FormatError, describeValue, parseJsonObject } from './errors';

export const IGNORE_INDEX = -100;

export interface TokenBatch {
  /** Row-major [batch, seq]. */
  inputIds: Int32Array;
  /** Row-major [batch, seq]; IGNORE_INDEX where no loss is taken. */
  labels: Int32Array;
  batch: number;
  seq: number;
}

export function parseBatch(json: string, file: string, vocabSize: number): TokenBatch {
  if (!Number.isSafeInteger(vocabSize) || vocabSize <= 0) {
    throw new FormatError(file, `cannot check token ids against vocabulary size ${vocabSize}`);
  }
  const raw = parseJsonObject(json, file, 'batch');
  if (raw.input_ids === undefined) throw new FormatError(file, 'missing "input_ids"');
  const [batch, seq] = matrixShape(raw.input_ids, 'input_ids', file);
  const inputIds = toInt32(raw.input_ids as number[][], 'input_ids', file, (v) => v >= 0 && v < vocabSize, `[0, ${vocabSize})`);

  let labels: Int32Array = inputIds.slice();
  if (raw.labels != null) {
    const [lb, ls] = matrixShape(raw.labels, 'labels', file);
    if (lb !== batch || ls !== seq) {
      throw new FormatError(file, `labels are [${lb}][${ls}] but input_ids are [${batch}][${seq}]`);
    }
    const ok = (v: number) => v === IGNORE_INDEX || (v >= 0 && v < vocabSize);
    labels = toInt32(raw.labels as number[][], 'labels', file, ok, `[0, ${vocabSize}) or ${IGNORE_INDEX}`);
  }
  checkAttentionMask(raw.attention_mask, batch, seq, file);
  return { inputIds, labels, batch, seq };
}

/** [rows, cols] of a non-empty rectangular array of arrays. */
function matrixShape(v: unknown, name: string, file: string): [number, number] {
  if (!Array.isArray(v) || v.length === 0)
    throw new FormatError(file, `"${name}" must be a non-empty list of rows, got ${describeValue(v)}`);
  const rows = v as unknown[];
  if (!Array.isArray(rows[0]) || rows[0].length === 0) {
    throw new FormatError(file, `${name}[0] must be a non-empty list of token ids, got ${describeValue(rows[0])}`);
  }
  const seq = rows[0].length;
  rows.forEach((row, b) => {
    if (!Array.isArray(row)) throw new FormatError(file, `${name}[${b}] must be a list of token ids, got ${describeValue(row)}`);
    if (row.length !== seq) {
      throw new FormatError(file, `${name}[${b}] has ${row.length} tokens but ${name}[0] has ${seq}; all rows must be the same length`);
    }
  });
  return [rows.length, seq];
}

function toInt32(rows: unknown[][], name: string, file: string, ok: (v: number) => boolean, range: string): Int32Array {
  const seq = rows[0]!.length;
  const out = new Int32Array(rows.length * seq);
  for (const [b, row] of rows.entries()) {
    for (const [t, v] of row.entries()) {
      if (typeof v !== 'number' || !Number.isInteger(v) || !ok(v)) {
        throw new FormatError(file, `${name}[${b}][${t}] = ${describeValue(v)} is not an integer in ${range}`);
      }
      out[b * seq + t] = v;
    }
  }
  return out;
}

/** Padding masks are not implemented; a mask of all ones is harmless, anything else is refused. */
function checkAttentionMask(mask: unknown, batch: number, seq: number, file: string): void {
  if (mask == null) return;
  const [mb, ms] = matrixShape(mask, 'attention_mask', file);
  if (mb !== batch || ms !== seq) throw new FormatError(file, `attention_mask is [${mb}][${ms}] but input_ids are [${batch}][${seq}]`);
  if ((mask as unknown[][]).some((row) => row.some((v) => v !== 1))) {
    throw new FormatError(file, 'attention_mask with zeros (padding) is not supported; use labels = -100 for positions to ignore');
  }
}
