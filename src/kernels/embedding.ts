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
  ],
});

export interface EmbeddingOptions {
  /** Learned positions (GPT-2): row t adds positions[pos0 + t mod S]. */
  readonly positions?: Tensor;
  /** Multiplies the token embedding (Gemma: √hidden); 1 by default. */
  readonly scale?: number;
  /** Position of the first row (a generation's cached prefix length); 0 by default. */
  readonly pos0?: number;
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
    uniforms: { T, C, S, scale: opts.scale ?? 1, pos0: opts.pos0 ?? 0 },
    overrides: { HAS_POS: positions !== undefined },
    workgroups: elementGroups(T * C),
  });
}
