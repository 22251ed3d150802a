import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { elementGroups } from './common';

const embeddingKernel = defineKernel({
  name: 'embedding-forward', shaders: ['common_grid.wgsl', 'embedding_forward.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage'], uniforms: [['T', 'u32'], ['C', 'u32'], ['S', 'u32']],
});

/**
 * out[t] = table[ids[t]] (+ positions[t mod S]). `ids` holds u32 token ids. The embedding is
 * frozen while adapting, so there is no backward kernel here.
 */
export function embeddingForward(
  rt: GpuRuntime, ids: Tensor, table: Tensor, out: Tensor, T: number, C: number, S: number, positions?: Tensor,
): void {
  rt.dispatch(embeddingKernel, {
    bind: [ids, table, positions ?? rt.unused, out], uniforms: { T, C, S },
    overrides: { HAS_POS: positions !== undefined }, workgroups: elementGroups(T * C),
  });
}
