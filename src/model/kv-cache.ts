import type { ModelConfig } from '../formats/hf-config';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import type { AttentionLayout } from '../kernels/attention';
import { cachedAttention, kvCacheWrite } from '../kernels/kv-cache';
import type { PassContext } from './context';

/**
 * The keys and values (after RoPE) of every position a generation has seen, per layer, so that
 * each new token runs one row through the model instead of the whole prefix. One sequence.
 */
export class KvCache {
  readonly layers: ReadonlyArray<{ readonly k: Tensor; readonly v: Tensor }>;
  /** Positions written so far: the next row goes to position `length`. */
  length = 0;

  constructor(
    private readonly rt: GpuRuntime,
    config: ModelConfig,
    /** Positions it holds: prompt + new tokens, at most the model's max_position_embeddings. */
    readonly capacity: number,
  ) {
    if (capacity > config.maxPositions) throw new Error(`a KV cache of ${capacity} positions exceeds the model's ${config.maxPositions}`);
    const width = config.numKvHeads * config.headDim;
    this.layers = Array.from({ length: config.numLayers }, (_, l) => ({
      k: rt.tensor([capacity, width], `kv.${l}.k`),
      v: rt.tensor([capacity, width], `kv.${l}.v`),
    }));
  }

  /** Bytes of GPU memory it holds. */
  get bytes(): number {
    return this.layers.reduce((n, l) => n + 4 * (l.k.numel + l.v.numel), 0);
  }

  destroy(): void {
    for (const l of this.layers) this.rt.release(l.k, l.v);
  }
}

/**
 * A block's attention in a cached pass (PassContext.cache): appends the pass's keys and values
 * (as laid out in `l`) to layer `layer` of the cache and attends over every cached position.
 * Returns the scores' scratch for the block to release with its other temporaries.
 */
export function attendWithCache(ctx: PassContext, layer: number, l: AttentionLayout, q: Tensor, k: Tensor, v: Tensor, o: Tensor): Tensor {
  const { rt, S: n } = ctx;
  if (!ctx.cache || ctx.B !== 1) throw new Error('attendWithCache: a cached pass runs one sequence with a cache');
  const { kv, pos0 } = ctx.cache;
  if (pos0 + n > kv.capacity) throw new Error(`the KV cache holds ${kv.capacity} positions; ${pos0 + n} are needed`);
  const width = l.kvHeads * l.headDim;
  const cache = kv.layers[layer];
  if (!cache) throw new Error(`attendWithCache: the KV cache has ${kv.layers.length} layers, not a layer ${layer}`);
  kvCacheWrite(rt, k, cache.k, n, width, pos0, l.ldk, l.kOffset);
  kvCacheWrite(rt, v, cache.v, n, width, pos0, l.ldv, l.vOffset);
  const scratch = rt.tensor([l.heads, n, pos0 + n], 'cached_scores');
  cachedAttention(
    rt,
    {
      n,
      pos0,
      heads: l.heads,
      kvHeads: l.kvHeads,
      headDim: l.headDim,
      ldq: l.ldq,
      qOffset: l.qOffset,
      scale: l.scale ?? 1 / Math.sqrt(l.headDim),
      window: l.window ?? 0,
    },
    q,
    cache.k,
    cache.v,
    o,
    scratch,
  );
  return scratch;
}
