import { grid } from '../gpu/runtime';

/** Workgroups for a 1-D problem of `n` elements in 256-wide groups (see common_grid.wgsl). */
export function elementGroups(n: number): [number, number] {
  return grid(Math.ceil(n / 256));
}

/** Workgroups for one workgroup per row (see rowIndex in common_reduce.wgsl). */
export function rowGroups(rows: number): [number, number] {
  return grid(rows);
}

/** Workgroups for one row per invocation, 64 invocations a group (see serialIndex in common_reduce_serial.wgsl). */
export function serialRowGroups(rows: number): [number, number] {
  return grid(Math.ceil(rows / 64));
}
