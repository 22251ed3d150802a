/**
 * Axis tick labels with as many significant digits as the ticks need to differ: fixed notation
 * for ordinary magnitudes, scientific notation below 1e-3 or from 1e5 on (uPlot's default labels
 * every tick of a 1e-5-scale axis "0", which is what VeRA's ΔM and ΔD look like).
 */
export function formatTicks(splits: readonly (number | null | undefined)[]): string[] {
  const values = splits.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (values.length === 0) return splits.map(() => '');
  const maxAbs = Math.max(...values.map(Math.abs));
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  let step = Infinity;
  for (let i = 1; i < sorted.length; i++) step = Math.min(step, sorted[i]! - sorted[i - 1]!);
  if (!Number.isFinite(step) || step === 0) step = maxAbs || 1;
  const tolerance = step * 1e-6;
  const scientific = maxAbs !== 0 && (maxAbs < 1e-3 || maxAbs >= 1e5);
  const format = (v: number, d: number) => {
    if (Math.abs(v) <= tolerance) return '0';
    if (scientific) return v.toExponential(d).replace('e+', 'e');
    return v.toFixed(d);
  };
  let digits = 0;
  for (; digits < 12; digits++) {
    if (values.every((v) => Math.abs(Number(format(v, digits)) - v) <= Math.max(tolerance, Math.abs(v) * 1e-12))) break;
  }
  return splits.map((v) => (typeof v === 'number' && Number.isFinite(v) ? format(v, digits) : ''));
}
