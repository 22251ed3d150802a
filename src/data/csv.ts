/**
 * RFC 4180 CSV: comma-separated, fields optionally in double quotes, "" is a quote inside a
 * quoted field, quoted fields may span lines, CRLF or LF line ends.
 */
export interface CsvRow {
  /** 1-based line number where the row starts. */
  readonly line: number;
  readonly fields: string[];
}

export function parseCsv(text: string): { rows: CsvRow[]; unterminatedQuoteAt: number | null } {
  const rows: CsvRow[] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let rowLine = 1;
  let quoteLine = 0;
  const endRow = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inQuotes) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"') {
      inQuotes = true;
      quoteLine = line;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      field += ch;
    }
  }
  if (inQuotes) return { rows, unterminatedQuoteAt: quoteLine };
  if (field !== '' || fields.length > 0) endRow();
  return { rows, unterminatedQuoteAt: null };
}
