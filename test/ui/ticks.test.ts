import { describe, expect, it } from 'vitest';
import { formatTicks } from '../../src/ui/ticks';

describe('axis tick labels', () => {
  it('keep VeRA-scale ticks apart in scientific notation', () => {
    expect(formatTicks([0, 2e-5, 4e-5, 6e-5])).toEqual(['0', '2e-5', '4e-5', '6e-5']);
    expect(formatTicks([1.0e-3 * 0.5, 0.55e-3, 0.6e-3])).toEqual(['5.0e-4', '5.5e-4', '6.0e-4']);
    expect(formatTicks([-1e-6, 0, 1e-6])).toEqual(['-1e-6', '0', '1e-6']);
  });
  it('use fixed notation with just enough decimals for ordinary values', () => {
    expect(formatTicks([0, 0.002, 0.004, 0.006])).toEqual(['0', '0.002', '0.004', '0.006']);
    expect(formatTicks([5, 10, 15])).toEqual(['5', '10', '15']);
    expect(formatTicks([0.25, 0.5, 0.75])).toEqual(['0.25', '0.50', '0.75']);
    expect(formatTicks([10.9655, 10.966, 10.9665])).toEqual(['10.9655', '10.9660', '10.9665']);
  });
  it('every label of a dense axis is distinct', () => {
    const splits = Array.from({ length: 6 }, (_, i) => 1.234e-4 + i * 2e-7);
    expect(new Set(formatTicks(splits)).size).toBe(6);
  });
  it('large values and gaps', () => {
    expect(formatTicks([0, 1e5, 2e5])).toEqual(['0', '1e5', '2e5']);
    expect(formatTicks([null, 1, 2])).toEqual(['', '1', '2']);
  });
});
