import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { elementGroups } from './common';

const embeddingKernel = defineKernel({
  name: 'embedding-forward',
  shaders: ['common_grid.wgsl', 'embedding_forward.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage'],
  uniforms: [
    ['T', 'u32'],
    ['C', 'u32'],
    ['S', 'u32'],
    ['scale', 'f32'],
    ['pos0', 'u32'],
    ['row0', 'u32'],
    ['rows', 'u32'],
  ],
});

export interface EmbeddingOptions {
  /** Learned positions (GPT-2): row t adds positions[pos0 + t mod S]. */
  readonly positions?: Tensor;
  /** Multiplies the token embedding (Gemma: √hidden); 1 by default. */
  readonly scale?: number;
  /** Position of the first row (a generation's cached prefix length); 0 by default. */
  readonly pos0?: number;
  /**
   * The table holds only rows [row0, row0 + tableRows) of the whole embedding (one block of a
   * table split across buffers); tokens with other ids are left unwritten. Default: all of it.
   */
  readonly row0?: number;
  readonly tableRows?: number;
}

/**
 * out[t] = table[ids[t]] · scale (+ positions[pos0 + t mod S]). `ids` holds u32 token ids. The
 * gradient of the table (full-rank training only) is embeddingBackward in weight-grads.ts.
 */
export function embeddingForward(
  rt: GpuRuntime,
  ids: Tensor,
  table: Tensor,
  out: Tensor,
  T: number,
  C: number,
  S: number,
  opts: EmbeddingOptions = {},
): void {
  const { positions } = opts;
  rt.dispatch(embeddingKernel, {
    bind: [ids, table, positions ?? rt.unused, out],
    uniforms: { T, C, S, scale: opts.scale ?? 1, pos0: opts.pos0 ?? 0, row0: opts.row0 ?? 0, rows: opts.tableRows ?? table.numel / C },
    overrides: { HAS_POS: positions !== undefined },
    workgroups: elementGroups(T * C),
  });
}
