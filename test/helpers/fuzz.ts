/** What the seeded fuzz tests (test/formats/fuzz.test.ts, test/data/fuzz.test.ts) share. */
export type Random = () => number;

export const int = (r: Random, n: number) => Math.floor(r() * n);
export const pick = <T>(r: Random, xs: readonly T[]): T => xs[int(r, xs.length)]!;

/** The tally rows as one markdown table under a title, columns padded (the closing notes quote it). */
export function markdownTable(title: string, rows: readonly Record<string, string | number>[], footer: readonly string[] = []): string {
  const cols = Object.keys(rows[0] ?? {});
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((row) => String(row[c]).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    title,
    line(cols),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((row) => line(cols.map((c) => String(row[c])))),
    ...footer,
  ].join('\n');
}
