// Time and memory of loading a generated ~50 MB dataset (issue 16), not part of the vitest run:
//   node --expose-gc --import tsx test/data/measure-csv.ts [csv|jsonl|txt] [megabytes]
// Prints one JSON line: parse time, heap growth, and the same through the bytes path (valid, and
// with one invalid UTF-8 byte in the middle).
import { parseDatasetBytes, parseDatasetFile } from '../../src/data/parse';

const format = (process.argv[2] ?? 'csv') as 'csv' | 'jsonl' | 'txt';
const bytesWanted = Number(process.argv[3] ?? 50) * 1e6;

function line(i: number): string {
  const sentence = `Row ${i} the wind be blowin fit to fill every sail and the sea be grey`;
  switch (format) {
    case 'csv':
      // Every 7th row quoted, with a comma, doubled quotes and a newline inside.
      return i % 7 === 0 ? `"${sentence}, with ""quotes"" and a\nnewline",${i % 3}\n` : `${sentence},${i % 3}\n`;
    case 'jsonl':
      return `${JSON.stringify({ text: sentence })}\n`;
    case 'txt':
      return `${sentence}\n\n`;
  }
}

const parts: string[] = format === 'csv' ? ['text,label\n'] : [];
for (let n = 0, i = 0; n < bytesWanted; i++) {
  const l = line(i);
  parts.push(l);
  n += l.length;
}
const text = parts.join('');
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const heapBefore = process.memoryUsage().heapUsed;
let t = performance.now();
const parsed = parseDatasetFile(`big.${format}`, text);
const ms = performance.now() - t;
const heapMB = (process.memoryUsage().heapUsed - heapBefore) / 1e6;

const bytes = new TextEncoder().encode(text);
t = performance.now();
parseDatasetBytes(`big.${format}`, bytes);
const bytesMs = performance.now() - t;
const broken = bytes.slice();
broken[Math.floor(broken.length / 2)] = 0xff;
t = performance.now();
const withBad = parseDatasetBytes(`big.${format}`, broken);
const brokenMs = performance.now() - t;

console.log(
  JSON.stringify({
    format,
    mb: Math.round(text.length / 1e6),
    records: parsed.records.length,
    delimiter: parsed.delimiter,
    parseMs: Math.round(ms),
    heapGrowthMB: Math.round(heapMB),
    fromBytesMs: Math.round(bytesMs),
    oneInvalidByteMs: Math.round(brokenMs),
    oneInvalidByteBadRows: withBad.badRows,
  }),
);
