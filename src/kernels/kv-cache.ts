import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { elementGroups } from './common';

const writeKernel = defineKernel({
  name: 'kv-cache-write',
  shaders: ['common_grid.wgsl', 'kv_cache_write.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'storage'],
  uniforms: [
    ['n', 'u32'],
    ['width', 'u32'],
    ['ld', 'u32'],
    ['off', 'u32'],
    ['pos0', 'u32'],
  ],
});
const attentionKernel = defineKernel({
  name: 'attention-cached',
  shaders: ['common_reduce.wgsl', 'attention_cached.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage', 'storage'],
  uniforms: [
    ['n', 'u32'],
    ['L', 'u32'],
    ['pos0', 'u32'],
    ['H', 'u32'],
    ['KVH', 'u32'],
    ['D', 'u32'],
    ['ldq', 'u32'],
    ['q_off', 'u32'],
    ['ldo', 'u32'],
    ['scale', 'f32'],
    ['window', 'u32'],
  ],
});

/** cache rows [pos0, pos0 + n) = the `width` columns of src [n, ld] from column `off`. */
export function kvCacheWrite(
  rt: GpuRuntime,
  src: Tensor,
  cache: Tensor,
  n: number,
  width: number,
  pos0: number,
  ld = width,
  off = 0,
): void {
  rt.dispatch(writeKernel, { bind: [src, cache], uniforms: { n, width, ld, off, pos0 }, workgroups: elementGroups(n * width) });
}

export interface CachedAttentionArgs {
  /** New query rows and the position of the first. */
  readonly n: number;
  readonly pos0: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** q rows [n, ldq] with this head block at column qOffset. */
  readonly ldq: number;
  readonly qOffset: number;
  readonly scale: number;
  /** Sliding window (0: full causal attention). */
  readonly window: number;
}

/**
 * o [n, H·D] = softmax(causal(q Kᵀ · scale)) V over the cache's first pos0 + n rows (the new
 * rows already written). `scratch` holds at least H · n · (pos0 + n) floats.
 */
export function cachedAttention(
  rt: GpuRuntime,
  a: CachedAttentionArgs,
  q: Tensor,
  kCache: Tensor,
  vCache: Tensor,
  o: Tensor,
  scratch: Tensor,
): void {
  rt.dispatch(attentionKernel, {
    bind: [q, kCache, vCache, o, scratch],
    uniforms: {
      n: a.n,
      L: a.pos0 + a.n,
      pos0: a.pos0,
      H: a.heads,
      KVH: a.kvHeads,
      D: a.headDim,
      ldq: a.ldq,
      q_off: a.qOffset,
      ldo: a.heads * a.headDim,
      scale: a.scale,
      window: a.window,
    },
    workgroups: [a.n, a.heads],
  });
}
