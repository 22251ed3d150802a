import type { Adapter, StepContext } from './adapter';
import { type LayerType, linearModules, type LinearModuleInfo, type ModelConfig } from '../formats/hf-config';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { embeddingForward } from '../kernels/embedding';
import { matmul } from '../kernels/matmul';
import { layernormBackward, layernormForward, rmsnormBackward, rmsnormForward } from '../kernels/norms';
import { ropeInverseFrequencies } from '../kernels/rope';
import { embeddingBackward, uploadRowGroups } from '../kernels/weight-grads';
import { type Block, firstPosition, normParamsBackward, type PassContext } from './context';
import { Gpt2Block } from './gpt2-block';
import type { KvCache } from './kv-cache';
import { FrozenLinear } from './linear';
import { LlamaBlock } from './llama-block';
import { RopeTable } from './rope-table';

/** CPU-side weights by canonical HF key (see formats/hf-config canonicalizeWeights). */
export type WeightMap = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;

/** Token ids on the GPU: ids [B·S] as u32 (and on the CPU, for the embedding's gradient). */
export interface DeviceTokens {
  readonly ids: Tensor;
  /** Needed only when the embedding itself trains (full rank). */
  readonly hostIds?: Int32Array;
  readonly B: number;
  readonly S: number;
}

/**
 * A [rows, cols] weight kept as blocks of whole rows, each in its own buffer: the token embedding
 * and the LM head of a large vocabulary outgrow one binding on small devices (Qwen2.5-0.5B's is
 * 519 MiB in f32, WebGPU's default limit 128 MiB). One block when it fits.
 */
export interface RowBlocks {
  readonly rows: number;
  readonly cols: number;
  readonly blocks: readonly { readonly row0: number; readonly rows: number; readonly tensor: Tensor }[];
}

export interface TransformerOptions {
  /**
   * The most bytes one weight buffer may take: the device's per-binding and per-buffer limits by
   * default. The embedding and LM head are split into row blocks under it; tests lower it to run
   * the split paths on small models.
   */
  readonly maxTensorBytes?: number;
}

interface FinalSaved {
  readonly xL: Tensor;
  readonly normStats: Tensor;
  /**
   * The LM head's input. forward() keeps it only for a trainable head's gradient; forwardHidden()
   * keeps it for the chunked head and loss that follow (train/head-loss.ts).
   */
  readonly normed: Tensor | null;
}

/**
 * A frozen HF causal LM (Llama, Qwen2, Qwen3, Gemma 3 or GPT-2) on the GPU: embedding, blocks,
 * final norm, LM head. Adapters plug into its linear layers; its own weights receive gradients
 * only in full-rank training (baseGrads).
 */
export class Transformer {
  private readonly tensors = new Map<string, Tensor>();
  private readonly linears = new Map<string, FrozenLinear>();
  /** RoPE tables by layer type: full-attention layers and (Gemma 3) sliding ones have their own base. */
  private readonly ropes = new Map<LayerType, RopeTable>();
  private readonly blocks: Block[];
  private residuals: Tensor[] = [];
  private final: FinalSaved | null = null;
  /**
   * Gradient checkpointing: a training forward keeps only each layer's input, and backward reruns
   * the layer's forward before its backward. Saves all but one layer's activations for about one
   * more forward pass of compute. Set it between passes, not between a forward and its backward.
   */
  recomputeLayers = false;

  private readonly split = new Map<string, RowBlocks>();
  /** See TransformerOptions.maxTensorBytes. */
  readonly maxTensorBytes: number;

  constructor(
    private readonly rt: GpuRuntime,
    readonly config: ModelConfig,
    weights: WeightMap,
    opts: TransformerOptions = {},
  ) {
    this.maxTensorBytes = opts.maxTensorBytes ?? Math.min(rt.info.maxStorageBufferBindingSize, rt.info.maxBufferSize);
    const splittable = new Set([this.embeddingKey(), 'lm_head.weight']);
    for (const [key, w] of weights) {
      if (w.data.length === 0) continue;
      if (splittable.has(key)) this.split.set(key, this.rowBlocks(key, w.shape, w.data));
      else this.tensors.set(key, rt.tensor(w.shape, key, w.data));
    }
    for (const m of linearModules(config)) this.linears.set(m.modulePath, this.frozenLinear(m));
    this.blocks = Array.from({ length: config.numLayers }, (_, l) => this.block(l));
  }

  /** Total parameters of the base model (tied weights counted once). */
  get parameterCount(): number {
    let n = 0;
    for (const t of this.tensors.values()) n += t.numel;
    for (const w of this.split.values()) n += w.rows * w.cols;
    return n;
  }

  linear(modulePath: string): FrozenLinear {
    const l = this.linears.get(modulePath);
    if (!l) throw new Error(`no linear layer ${modulePath} in this ${this.config.family} model`);
    return l;
  }

  /** A weight in one buffer (the embedding and LM head too, when they fit one). */
  weight(key: string): Tensor {
    const t = this.tensors.get(key);
    if (t) return t;
    const w = this.split.get(key);
    if (w?.blocks.length === 1) return w.blocks[0]!.tensor;
    if (w) {
      throw new Error(
        `${key} [${w.rows}, ${w.cols}] is split into ${w.blocks.length} buffers (this device allows ${this.maxTensorBytes} bytes per buffer); ` +
          'training it (full rank) needs it in one',
      );
    }
    throw new Error(`model weight ${key} is missing`);
  }

  /** Whether a weight exists and is kept in one buffer. */
  isWhole(key: string): boolean {
    return this.tensors.has(key) || this.split.get(key)?.blocks.length === 1;
  }

  private embeddingKey(): string {
    return this.config.arch === 'llama' ? 'model.embed_tokens.weight' : 'transformer.wte.weight';
  }

  /** Rows of `data` in blocks of at most maxTensorBytes (whole rows, at least one a block). */
  private rowBlocks(key: string, shape: readonly number[], data: Float32Array): RowBlocks {
    const [rows, cols] = shape as [number, number];
    const per = Math.max(1, Math.floor(this.maxTensorBytes / (4 * cols)));
    const blocks = [];
    for (let row0 = 0; row0 < rows; row0 += per) {
      const n = Math.min(per, rows - row0);
      const label = n === rows ? key : `${key}[${row0}:${row0 + n}]`;
      blocks.push({ row0, rows: n, tensor: this.rt.tensor([n, cols], label, data.subarray(row0 * cols, (row0 + n) * cols)) });
    }
    return { rows, cols, blocks };
  }

  private frozenLinear(m: LinearModuleInfo): FrozenLinear {
    return new FrozenLinear(m, this.weight(m.weightKey), m.biasKey ? this.weight(m.biasKey) : null);
  }

  /** The RoPE table of a layer type, made on first use (Gemma 3's sliding layers: rope_local_base_freq, unscaled). */
  private ropeTable(type: LayerType): RopeTable {
    let table = this.ropes.get(type);
    if (!table) {
      const c = this.config;
      const invFreq =
        type === 'sliding'
          ? ropeInverseFrequencies(c.headDim, c.ropeLocalTheta)
          : ropeInverseFrequencies(c.headDim, c.ropeTheta, c.ropeScaling);
      table = new RopeTable(this.rt, invFreq, c.maxPositions, `rope.${type}`);
      this.ropes.set(type, table);
    }
    return table;
  }

  private block(l: number): Block {
    const c = this.config;
    if (c.arch === 'llama') {
      const p = `model.layers.${l}`;
      const layerType = c.layerTypes[l];
      if (layerType === undefined) throw new Error(`layer ${l}: the config gives types for ${c.layerTypes.length} layers`);
      const optional = (key: string, present: boolean) => (present ? this.weight(key) : null);
      return new LlamaBlock(
        c,
        {
          attnNorm: this.weight(`${p}.input_layernorm.weight`),
          mlpNorm: this.weight(`${p}.${c.sandwichNorms ? 'pre_feedforward_layernorm' : 'post_attention_layernorm'}.weight`),
          attnOutNorm: optional(`${p}.post_attention_layernorm.weight`, c.sandwichNorms),
          mlpOutNorm: optional(`${p}.post_feedforward_layernorm.weight`, c.sandwichNorms),
          qNorm: optional(`${p}.self_attn.q_norm.weight`, c.qkNorm),
          kNorm: optional(`${p}.self_attn.k_norm.weight`, c.qkNorm),
          q: this.linear(`${p}.self_attn.q_proj`),
          k: this.linear(`${p}.self_attn.k_proj`),
          v: this.linear(`${p}.self_attn.v_proj`),
          o: this.linear(`${p}.self_attn.o_proj`),
          gate: this.linear(`${p}.mlp.gate_proj`),
          up: this.linear(`${p}.mlp.up_proj`),
          down: this.linear(`${p}.mlp.down_proj`),
        },
        this.ropeTable(layerType),
        layerType,
        l,
      );
    }
    const p = `transformer.h.${l}`;
    return new Gpt2Block(
      c,
      {
        ln1Weight: this.weight(`${p}.ln_1.weight`),
        ln1Bias: this.weight(`${p}.ln_1.bias`),
        ln2Weight: this.weight(`${p}.ln_2.weight`),
        ln2Bias: this.weight(`${p}.ln_2.bias`),
        attn: this.linear(`${p}.attn.c_attn`),
        attnProj: this.linear(`${p}.attn.c_proj`),
        fc: this.linear(`${p}.mlp.c_fc`),
        mlpProj: this.linear(`${p}.mlp.c_proj`),
      },
      l,
    );
  }

  /** The LM head's key: lm_head.weight, or the input embedding when tied. */
  private headKey(): string {
    return !this.config.tieWordEmbeddings && this.split.has('lm_head.weight') ? 'lm_head.weight' : this.embeddingKey();
  }

  /** The LM head in one buffer (full-rank training of it); see weight(). */
  head(): Tensor {
    return this.weight(this.headKey());
  }

  /** The LM head's gradient in `baseGrads` when it trains (only a head in one buffer can). */
  headGrad(baseGrads: ReadonlyMap<Tensor, Tensor> | null): Tensor | undefined {
    if (!baseGrads || !this.isWhole(this.headKey())) return undefined;
    return baseGrads.get(this.head());
  }

  /**
   * logits [M, V] = rows [row0, row0 + M) of hidden [·, C] · headᵀ, one matmul per block of the
   * head into its columns of the logits.
   */
  headForward(hidden: Tensor, row0: number, M: number, logits: Tensor): void {
    const { hiddenSize: C, vocabSize: V } = this.config;
    for (const b of this.split.get(this.headKey())!.blocks) {
      matmul(this.rt, { a: hidden, aOffset: row0 * C, b: b.tensor, c: logits, cOffset: b.row0, ldc: V, M, N: b.rows, K: C, transB: true });
    }
  }

  /** Rows [row0, row0 + M) of dHidden [·, C] = dLogits [M, V] · head, summed over the head's blocks. */
  headBackwardInput(dLogits: Tensor, M: number, dHidden: Tensor, row0: number): void {
    const { hiddenSize: C, vocabSize: V } = this.config;
    for (const [i, b] of this.split.get(this.headKey())!.blocks.entries()) {
      const beta = i === 0 ? 0 : 1;
      matmul(this.rt, { a: dLogits, aOffset: b.row0, lda: V, b: b.tensor, c: dHidden, cOffset: row0 * C, M, N: C, K: b.rows, beta });
    }
  }

  private passContext(
    B: number,
    S: number,
    adapter: Adapter | null,
    step: StepContext,
    keep: boolean,
    baseGrads: ReadonlyMap<Tensor, Tensor> | null = null,
  ): PassContext {
    return { rt: this.rt, B, S, T: B * S, adapter, step, keep, baseGrads };
  }

  /**
   * Records the forward pass and returns logits [B·S, V] (owned by the caller). With `keep`,
   * activations stay for backward(): those it will read given the adapter and, for full-rank
   * training, the base weights that will get gradients (`baseGrads`, as backward() gets it).
   */
  forward(
    tokens: DeviceTokens,
    adapter: Adapter | null,
    step: StepContext,
    keep: boolean,
    baseGrads: ReadonlyMap<Tensor, Tensor> | null = null,
  ): Tensor {
    const { rt } = this;
    const T = tokens.B * tokens.S;
    const normed = this.forwardHidden(tokens, adapter, step, keep, baseGrads);
    const logits = rt.tensor([T, this.config.vocabSize], 'logits');
    this.headForward(normed, 0, T, logits);
    // Kept only for a trainable head's gradient: backward() reads dLogits, not the head's input.
    const headTrains = this.headGrad(baseGrads) !== undefined;
    if (!keep || !headTrains) rt.release(normed);
    if (keep && !headTrains) this.final = { ...this.final!, normed: null };
    return logits;
  }

  /**
   * The forward pass up to the LM head: the final norm's output [B·S, C]. With `keep` the model
   * holds it, with the activations backwardHidden() reads, until that backward (or
   * releaseActivations); without, the caller owns it.
   */
  forwardHidden(
    tokens: DeviceTokens,
    adapter: Adapter | null,
    step: StepContext,
    keep: boolean,
    baseGrads: ReadonlyMap<Tensor, Tensor> | null = null,
  ): Tensor {
    const { B, S } = tokens;
    const c = this.config;
    if (S > c.maxPositions) throw new Error(`sequence length ${S} exceeds the model's ${c.maxPositions} positions`);
    this.releaseActivations();
    for (const table of this.ropes.values()) table.ensure(S);
    const ctx = this.passContext(B, S, adapter, step, keep, baseGrads);
    const { rt, T } = ctx;
    const C = c.hiddenSize;
    let x = this.embed(ctx, tokens.ids);
    const residuals = [x];
    // Checkpointing: each layer keeps only its input (the residual stream); backward recomputes the rest.
    const blockCtx = keep && this.recomputeLayers ? { ...ctx, keep: false } : ctx;
    for (const block of this.blocks) {
      const next = block.forward(blockCtx, x);
      if (!keep) rt.release(x);
      x = next;
      residuals.push(x);
    }
    const normed = rt.tensor([T, C], 'final_norm');
    const normStats = rt.tensor([T, 2], 'final_stats');
    this.finalNormForward(x, normed, normStats, T);
    if (keep) {
      this.residuals = residuals;
      this.final = { xL: x, normStats, normed };
    } else {
      rt.release(x, normStats);
    }
    return normed;
  }

  /**
   * Cached decoding: runs the tokens' S rows (positions cache.length …) through the model,
   * appending their keys and values to the cache, and returns the logits of the last row only
   * [1, V] (owned by the caller). A prompt goes in once (prefill), then one token per call: no
   * pass reruns the prefix, and no pass reads back more than one row of the vocabulary.
   */
  decode(tokens: DeviceTokens, adapter: Adapter | null, cache: KvCache): Tensor {
    const { S } = tokens;
    const pos0 = cache.length;
    if (tokens.B !== 1) throw new Error('cached decoding runs one sequence at a time');
    if (pos0 + S > cache.capacity) throw new Error(`the KV cache holds ${cache.capacity} positions; ${pos0 + S} are needed`);
    this.releaseActivations();
    for (const table of this.ropes.values()) table.ensure(pos0 + S);
    const ctx: PassContext = { ...this.passContext(1, S, adapter, { training: false, seed: 0 }, false), cache: { kv: cache, pos0 } };
    const { rt } = this;
    const C = this.config.hiddenSize;
    let x = this.embed(ctx, tokens.ids);
    for (const block of this.blocks) {
      const next = block.forward(ctx, x);
      rt.release(x);
      x = next;
    }
    // The final norm is per row, so the last row alone gives the last row's logits.
    const last = rt.tensor([1, C], 'last_row');
    rt.copy(x, last, C, (S - 1) * C);
    const normed = rt.tensor([1, C], 'final_norm');
    const normStats = rt.tensor([1, 2], 'final_stats');
    this.finalNormForward(last, normed, normStats, 1);
    const logits = rt.tensor([1, this.config.vocabSize], 'logits');
    this.headForward(normed, 0, 1, logits);
    rt.release(x, last, normed, normStats);
    cache.length = pos0 + S;
    return logits;
  }

  /** Token embeddings of the pass's rows (scaled for Gemma; GPT-2 adds its learned positions). */
  private embed(ctx: PassContext, ids: Tensor): Tensor {
    const c = this.config;
    const { rt, T, S } = ctx;
    const x = rt.tensor([T, c.hiddenSize], 'embed');
    const opts =
      c.arch === 'llama' ? { scale: c.embeddingScale } : { positions: this.weight('transformer.wpe.weight'), pos0: firstPosition(ctx) };
    // Each block writes the tokens whose ids it holds: together, every token once.
    for (const b of this.split.get(this.embeddingKey())!.blocks) {
      embeddingForward(rt, ids, b.tensor, x, T, c.hiddenSize, S, { ...opts, row0: b.row0, tableRows: b.rows });
    }
    return x;
  }

  /**
   * Backpropagates d loss/d logits through the kept activations into the adapter's gradients
   * and, for full-rank training, into `baseGrads` (weight tensor → its gradient; accumulated).
   */
  backward(
    tokens: DeviceTokens,
    adapter: Adapter | null,
    step: StepContext,
    dLogits: Tensor,
    baseGrads: ReadonlyMap<Tensor, Tensor> | null = null,
  ): void {
    const f = this.final;
    if (!f) throw new Error('backward without a training forward');
    const { rt } = this;
    const T = tokens.B * tokens.S;
    const { hiddenSize: C, vocabSize: V } = this.config;
    const dHead = this.headGrad(baseGrads);
    if (dHead) {
      if (!f.normed) throw new Error('backward: the LM head trains, but the forward was not told (baseGrads) and did not keep its input');
      matmul(rt, { a: dLogits, b: f.normed, c: dHead, M: V, N: C, K: T, transA: true, beta: 1 });
    }
    const dNormed = rt.tensor([T, C], 'd_final_norm');
    this.headBackwardInput(dLogits, T, dNormed, 0);
    this.backwardHidden(tokens, adapter, step, dNormed, baseGrads);
    rt.release(dNormed);
  }

  /**
   * Backpropagates d loss/d (final norm output) [B·S, C] (the caller's) after forwardHidden() or
   * forward() with `keep`; the LM head's own gradient is the caller's (backward(), head-loss.ts).
   */
  backwardHidden(
    tokens: DeviceTokens,
    adapter: Adapter | null,
    step: StepContext,
    dNormed: Tensor,
    baseGrads: ReadonlyMap<Tensor, Tensor> | null = null,
  ): void {
    const f = this.final;
    if (!f) throw new Error('backward without a training forward');
    const ctx = this.passContext(tokens.B, tokens.S, adapter, step, true, baseGrads);
    const { rt, T } = ctx;
    const C = this.config.hiddenSize;
    let dx = rt.tensor([T, C], 'd_resid');
    this.finalNormBackward(ctx, f, dNormed, dx);
    for (let l = this.blocks.length - 1; l >= 0; l--) {
      const block = this.blocks[l]!;
      // The same kernels on the same input with the same step seed: the very activations (and dropout masks) of the forward.
      if (this.recomputeLayers) rt.release(block.forward(ctx, this.residuals[l]!));
      const dPrev = block.backward(ctx, dx);
      rt.release(dx);
      dx = dPrev;
    }
    if (baseGrads) this.embeddingBackward(tokens, dx, baseGrads);
    rt.release(dx);
    this.releaseActivations();
  }

  /** Token (and GPT-2 position) embedding gradients, summed over the rows that used each entry. */
  private embeddingBackward(tokens: DeviceTokens, dx: Tensor, baseGrads: ReadonlyMap<Tensor, Tensor>): void {
    const { rt } = this;
    const C = this.config.hiddenSize;
    const gpt2 = this.config.arch === 'gpt2';
    const scatter = (ids: ArrayLike<number>, table: Tensor, label: string, scale = 1) => {
      const dTable = baseGrads.get(table);
      if (!dTable) return;
      const groups = uploadRowGroups(rt, ids, label);
      embeddingBackward(rt, dx, groups, dTable, C, scale);
      rt.release(groups.uniqueIds, groups.offsets, groups.rows);
    };
    if (!tokens.hostIds) throw new Error('full-rank backward needs the token ids on the CPU (hostIds)');
    scatter(
      tokens.hostIds,
      this.weight(gpt2 ? 'transformer.wte.weight' : 'model.embed_tokens.weight'),
      'token_groups',
      this.config.embeddingScale,
    );
    if (gpt2) {
      const positions = Array.from({ length: tokens.B * tokens.S }, (_, t) => t % tokens.S);
      scatter(positions, this.weight('transformer.wpe.weight'), 'position_groups');
    }
  }

  private finalNormForward(x: Tensor, y: Tensor, stats: Tensor, T: number): void {
    const c = this.config;
    if (c.arch === 'llama') {
      rmsnormForward(this.rt, x, this.weight('model.norm.weight'), y, stats, T, c.hiddenSize, c.normEps, c.normWeightOffset);
    } else {
      layernormForward(
        this.rt,
        x,
        this.weight('transformer.ln_f.weight'),
        this.weight('transformer.ln_f.bias'),
        y,
        stats,
        T,
        c.hiddenSize,
        c.normEps,
      );
    }
  }

  private finalNormBackward(ctx: PassContext, f: FinalSaved, dy: Tensor, dx: Tensor): void {
    const c = this.config;
    const T = ctx.T;
    if (c.arch === 'llama') {
      const w = this.weight('model.norm.weight');
      rmsnormBackward(this.rt, f.xL, w, f.normStats, dy, dx, T, c.hiddenSize, undefined, c.normWeightOffset);
      normParamsBackward(ctx, 'rmsnorm', f.xL, f.normStats, dy, c.hiddenSize, w);
    } else {
      const [w, b] = [this.weight('transformer.ln_f.weight'), this.weight('transformer.ln_f.bias')];
      layernormBackward(this.rt, f.xL, w, f.normStats, dy, dx, T, c.hiddenSize);
      normParamsBackward(ctx, 'layernorm', f.xL, f.normStats, dy, c.hiddenSize, w, b);
    }
  }

  releaseActivations(): void {
    const ctx = this.passContext(1, 1, null, { training: false, seed: 0 }, false);
    for (const b of this.blocks) b.release(ctx);
    this.rt.release(...this.residuals);
    this.residuals = [];
    if (this.final) this.rt.release(this.final.normStats, this.final.normed);
    this.final = null;
  }

  destroy(): void {
    this.releaseActivations();
    for (const t of this.tensors.values()) this.rt.release(t);
    this.tensors.clear();
    for (const w of this.split.values()) this.rt.release(...w.blocks.map((b) => b.tensor));
    this.split.clear();
    for (const table of this.ropes.values()) table.release();
  }
}
