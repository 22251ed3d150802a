import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { elementGroups } from './common';

/** Kernels only full-rank training needs: gradients of the frozen path's own weights. */

const normWeightGradKernel = defineKernel({
  name: 'norm-weight-grad',
  shaders: ['norm_weight_grad.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage', 'storage'],
  uniforms: [
    ['T', 'u32'],
    ['C', 'u32'],
  ],
});
const embeddingBackwardKernel = defineKernel({
  name: 'embedding-backward',
  shaders: ['common_grid.wgsl', 'embedding_backward.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'read', 'storage'],
  uniforms: [
    ['U', 'u32'],
    ['C', 'u32'],
    ['scale', 'f32'],
  ],
});

/** dw += Σ_t dy · x̂ (and db += Σ_t dy for LayerNorm); `stats` as the forward kernel saved it. */
export function normWeightGrad(
  rt: GpuRuntime,
  kind: 'rmsnorm' | 'layernorm',
  x: Tensor,
  stats: Tensor,
  dy: Tensor,
  dw: Tensor,
  db: Tensor | null,
  T: number,
  C: number,
): void {
  rt.dispatch(normWeightGradKernel, {
    bind: [x, stats, dy, dw, db ?? rt.unused],
    uniforms: { T, C },
    overrides: { LAYERNORM: kind === 'layernorm' },
    workgroups: [Math.ceil(C / 64)],
  });
}

/** Rows grouped by id, built on the CPU: the scatter-add then needs no atomics. */
export interface RowGroups {
  readonly uniqueIds: Tensor; // [U] u32
  readonly offsets: Tensor; // [U + 1] u32
  readonly rows: Tensor; // [T] u32, rows sorted by id
  readonly count: number; // U
}

export function groupRowsById(ids: ArrayLike<number>): { uniqueIds: Uint32Array; offsets: Uint32Array; rows: Uint32Array } {
  const order = Array.from({ length: ids.length }, (_, i) => i).sort((a, b) => ids[a]! - ids[b]! || a - b);
  const uniqueIds: number[] = [];
  const offsets: number[] = [];
  order.forEach((row, k) => {
    const id = ids[row]!;
    if (k === 0 || id !== ids[order[k - 1]!]) {
      uniqueIds.push(id);
      offsets.push(k);
    }
  });
  offsets.push(order.length);
  return { uniqueIds: Uint32Array.from(uniqueIds), offsets: Uint32Array.from(offsets), rows: Uint32Array.from(order) };
}

export function uploadRowGroups(rt: GpuRuntime, ids: ArrayLike<number>, label: string): RowGroups {
  const g = groupRowsById(ids);
  const put = (data: Uint32Array, name: string) => rt.intTensor(data, `${label}.${name}`);
  return {
    uniqueIds: put(g.uniqueIds, 'unique'),
    offsets: put(g.offsets, 'offsets'),
    rows: put(g.rows, 'rows'),
    count: g.uniqueIds.length,
  };
}

/** dtable[id] += scale · Σ of the rows of dx [T, C] with that id (scale: the forward's embedding scale). */
export function embeddingBackward(rt: GpuRuntime, dx: Tensor, groups: RowGroups, dtable: Tensor, C: number, scale = 1): void {
  rt.dispatch(embeddingBackwardKernel, {
    bind: [dx, groups.uniqueIds, groups.offsets, groups.rows, dtable],
    uniforms: { U: groups.count, C, scale },
    workgroups: elementGroups(groups.count * C),
  });
}
