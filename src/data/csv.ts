/**
 * CSV through Papa Parse (RFC 4180: fields optionally in double quotes, "" is a quote inside a
 * quoted field, quoted fields may span lines). Rows are handed over one at a time, so a large file
 * is never held as a table of every field; the delimiter (comma, semicolon, tab or pipe) is
 * detected from the first lines. CR and CRLF line ends are read as LF.
 */
import Papa from 'papaparse';
import { CSV_DELIMITERS, type CsvDelimiter } from './types';

export { CSV_DELIMITERS, type CsvDelimiter, delimiterName } from './types';

export interface CsvRow {
  /** 1-based line number where the row starts. */
  readonly line: number;
  readonly fields: string[];
  /** A quote inside an unquoted field or text after a closing quote: the row's fields cannot be trusted. */
  readonly malformedQuotes: boolean;
}

export interface CsvScan {
  /**
   * A quoted field that runs to the end of the file: the line it was opened on, and whether a
   * malformed quote (text after a closing quote) is why it never ends. Null when there is none.
   */
  readonly unterminatedQuoteAt: { readonly line: number; readonly malformed: boolean } | null;
}

/** How many lines of the file the delimiter is guessed from. */
const SNIFF_ROWS = 20;
const SNIFF_CHARS = 1 << 16;

/**
 * The delimiter of a CSV text: the candidate that splits the header into two or more columns and
 * gives the most of the first rows the header's field count (ties: more columns, then the order of
 * CSV_DELIMITERS). Null when no candidate splits the header: a single-column file.
 */
export function detectCsvDelimiter(text: string): CsvDelimiter | null {
  const cut = text.length > SNIFF_CHARS;
  const sample = normalizeLineEnds(cut ? text.slice(0, SNIFF_CHARS) : text);
  let best: { d: CsvDelimiter; consistent: number; columns: number } | null = null;
  for (const d of CSV_DELIMITERS) {
    const rows = Papa.parse<string[]>(sample, { delimiter: d, newline: '\n', preview: SNIFF_ROWS, skipEmptyLines: true }).data;
    // A sample cut mid-row would end in a partial row.
    if (cut && rows.length > 1) rows.pop();
    const columns = rows[0]?.length ?? 0;
    if (columns < 2) continue;
    const consistent = rows.filter((r) => r.length === columns).length;
    if (!best || consistent > best.consistent || (consistent === best.consistent && columns > best.columns))
      best = { d, consistent, columns };
  }
  return best?.d ?? null;
}

/** Calls `onRow` for every non-blank row, in order, until it returns false. */
export function forEachCsvRow(text: string, delimiter: CsvDelimiter, onRow: (row: CsvRow) => boolean | undefined): CsvScan {
  const input = normalizeLineEnds(text);
  let unterminatedQuoteAt: CsvScan['unterminatedQuoteAt'] = null;
  // Papa's cursor is where each row ends; the next one starts there. Lines are counted between them.
  let rowStart = 0;
  let rowLine = 1;
  Papa.parse<string[]>(input, {
    delimiter,
    newline: '\n',
    quoteChar: '"',
    escapeChar: '"',
    step: (result, parser) => {
      const fields = result.data;
      const end = result.meta.cursor;
      const missing = result.errors.find((e) => e.code === 'MissingQuotes');
      if (missing) {
        // Papa reports the position just after the opening quote.
        const line = rowLine + countNewlines(input, rowStart, Math.max(rowStart, (missing.index ?? rowStart + 1) - 1));
        unterminatedQuoteAt = { line, malformed: result.errors.some((e) => e.code === 'InvalidQuotes') };
        parser.abort();
        return;
      }
      if (!(fields.length === 1 && fields[0] === '')) {
        const more = onRow({ line: rowLine, fields, malformedQuotes: result.errors.some((e) => e.code === 'InvalidQuotes') });
        if (more === false) {
          parser.abort();
          return;
        }
      }
      rowLine += countNewlines(input, rowStart, end);
      rowStart = end;
    },
  });
  return { unterminatedQuoteAt };
}

/** The whole table (for small inputs and tests); the delimiter is detected unless given. */
export function parseCsv(
  text: string,
  delimiter: CsvDelimiter | null = detectCsvDelimiter(text),
): { rows: CsvRow[]; unterminatedQuoteAt: number | null; delimiter: CsvDelimiter | null } {
  const rows: CsvRow[] = [];
  const { unterminatedQuoteAt: open } = forEachCsvRow(text, delimiter ?? ',', (r) => {
    rows.push(r);
    return true;
  });
  return { rows, unterminatedQuoteAt: open?.line ?? null, delimiter };
}

function normalizeLineEnds(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
}

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
