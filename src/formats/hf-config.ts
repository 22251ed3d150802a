/**
 * Hugging Face `config.json` → one normalized ModelConfig, plus the weight-key conventions of
 * the checkpoints (what `LlamaForCausalLM`, `Qwen2ForCausalLM`, `Qwen3ForCausalLM`,
 * `Gemma3ForCausalLM` and `GPT2LMHeadModel` write with `save_pretrained`).
 *
 * Qwen2, Qwen3 and Gemma 3 are Llama-shaped decoders (arch 'llama') that differ by switches:
 * biases, q/k norms, the norm's `(1 + w)` form, four norms a layer, GeGLU, embedding and
 * attention scales, sliding-window layers. Anything that would change the maths but that the
 * engine does not implement (another rope type, logit soft-capping, another activation, ...) is
 * rejected here with a message, rather than silently producing a different model.
 */
import { FormatError, describeValue, isObject, parseJsonObject, quote, renderShape } from './errors';

/** The two block layouts the engine runs: Llama-shaped decoders and GPT-2. */
export type Arch = 'llama' | 'gpt2';
/** The checkpoint family (`model_type`), which fixes key names and the switches below. */
export type ModelFamily = 'llama' | 'qwen2' | 'qwen3' | 'gemma3' | 'gpt2';

/** How RoPE inverse frequencies are rescaled (transformers' rope_type); null for plain RoPE. */
export type RopeScaling =
  | { readonly type: 'linear'; readonly factor: number }
  | {
      readonly type: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositions: number;
    };

/** Full causal attention, or a sliding window of `slidingWindow` keys with its own RoPE base. */
export type LayerType = 'full' | 'sliding';

export interface ModelConfig {
  arch: Arch;
  family: ModelFamily;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  normEps: number;
  /** RoPE base of full-attention layers; 0 for gpt2 (learned positions). */
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** RoPE base of sliding-window layers (Gemma 3's rope_local_base_freq). */
  ropeLocalTheta: number;
  /** One entry per layer. */
  layerTypes: LayerType[];
  /** Keys a query sees in a sliding layer (i − j < slidingWindow); 0 when no layer slides. */
  slidingWindow: number;
  tieWordEmbeddings: boolean;
  /** MLP activation: SwiGLU (silu), GeGLU (gelu_tanh), or GPT-2's plain gelu_new. */
  activation: 'silu' | 'gelu_tanh' | 'gelu_new';
  /** Biases on q/k/v (Qwen2, Llama's attention_bias) and on the attention output (Llama's attention_bias). */
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** Per-head RMSNorm of q and k before RoPE (Qwen3, Gemma 3). */
  qkNorm: boolean;
  /** Gemma 3's norms of each branch's output before the residual add (four norms a layer). */
  sandwichNorms: boolean;
  /** RMSNorm weight offset: Gemma scales by (1 + w), the others by w. */
  normWeightOffset: 0 | 1;
  /** Token embeddings are multiplied by this (Gemma: √hidden). */
  embeddingScale: number;
  /** Attention scores are multiplied by this (1/√head_dim; Gemma: query_pre_attn_scalar^−½). */
  attentionScale: number;
  raw: Record<string, unknown>;
}

const FAMILIES: Record<string, ModelFamily> = { llama: 'llama', qwen2: 'qwen2', qwen3: 'qwen3', gemma3_text: 'gemma3', gpt2: 'gpt2' };
const SUPPORTED = Object.keys(FAMILIES)
  .map((t) => `"${t}"`)
  .join(', ');

export function parseModelConfig(json: string, file: string): ModelConfig {
  const raw = parseJsonObject(json, file, 'model config');
  const type = raw.model_type;
  if (type === undefined) throw new FormatError(file, `missing "model_type" (supported: ${SUPPORTED})`);
  const family = typeof type === 'string' && Object.hasOwn(FAMILIES, type) ? FAMILIES[type] : undefined;
  if (family === undefined) throw new FormatError(file, `model_type ${describeValue(type)} is not supported (supported: ${SUPPORTED})`);
  return family === 'gpt2' ? parseGpt2(raw, file) : parseDecoder(raw, family, file);
}

// ---------------------------------------------------------------------------------------------
// Field readers

/**
 * The largest value each size field may take. They are checked as the config is read, before
 * anything is sized from them (the expected-weight list, layer tables, RoPE and KV buffers),
 * so a corrupt or hostile config.json (`"num_hidden_layers": 1e9`, positions of 2^53) is an
 * error naming the field, not an out-of-memory crash. Each sits far above any model this
 * studio trains (≤ ~1.2 B parameters: hidden ≤ 2048, ≤ 28 layers, vocab ≤ 262,144, Llama 3.2's
 * 131,072 positions) and above every released decoder of these families (hidden 16,384, 126
 * layers, intermediate 53,248 for Llama 3.1 405B), so no real config is refused by them.
 */
export const CONFIG_LIMITS = {
  /** num_hidden_layers / n_layer. */
  layers: 1024,
  /** hidden_size / n_embd: 2^16. */
  hidden: 65_536,
  /** num_attention_heads / num_key_value_heads / n_head. */
  heads: 1024,
  /** head_dim (256 for Gemma 3, 128 for most). */
  headDim: 1024,
  /** intermediate_size / n_inner: 2^18. */
  intermediate: 262_144,
  /** vocab_size: 2^22 (Gemma 3 has 262,144). */
  vocab: 4_194_304,
  /** max_position_embeddings / n_positions / n_ctx, and sliding_window: 2^24. */
  positions: 16_777_216,
} as const;

/** Any other integer field (sliding_window_pattern, ...). */
const MAX_OTHER_INT = CONFIG_LIMITS.positions;

function posInt(raw: Record<string, unknown>, key: string, file: string, fallback: number | undefined, max: number): number {
  const v = raw[key] ?? fallback;
  if (v === undefined) throw new FormatError(file, `missing "${key}"`);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new FormatError(file, `"${key}" must be a positive integer, got ${describeValue(v)}`);
  }
  if (v > max) {
    throw new FormatError(
      file,
      `"${key}" is ${v}, above the supported maximum ${max} (a corrupt config, or a model far larger than this studio runs)`,
    );
  }
  return v;
}

function posNumber(raw: Record<string, unknown>, key: string, file: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (v === undefined) throw new FormatError(file, `missing "${key}"`);
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new FormatError(file, `"${key}" must be a positive number, got ${describeValue(v)}`);
  }
  return v;
}

function bool(raw: Record<string, unknown>, key: string, file: string, fallback: boolean): boolean {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'boolean') throw new FormatError(file, `"${key}" must be true or false, got ${describeValue(v)}`);
  return v;
}

function divides(a: number, aName: string, b: number, bName: string, file: string): void {
  if (b % a !== 0) throw new FormatError(file, `${bName} (${b}) is not divisible by ${aName} (${a})`);
}

/** A field that must be absent or null: the engine does not implement what it would switch on. */
function mustBeUnset(raw: Record<string, unknown>, key: string, file: string, why: string): void {
  if (raw[key] != null) throw new FormatError(file, `"${key}" ${describeValue(raw[key])} is not supported (${why})`);
}

// ---------------------------------------------------------------------------------------------
// Llama-shaped decoders: llama, qwen2, qwen3, gemma3_text

/** What each family fixes, whatever its config says (as its transformers modeling file does). */
interface FamilyTraits {
  readonly actKey: 'hidden_act' | 'hidden_activation';
  readonly act: 'silu' | 'gelu_tanh';
  /** head_dim when the config omits it (Qwen3Config and Gemma3TextConfig have their own defaults). */
  readonly defaultHeadDim: number | null;
  readonly qkNorm: boolean;
  readonly gemma: boolean;
}

const TRAITS: Record<Exclude<ModelFamily, 'gpt2'>, FamilyTraits> = {
  llama: { actKey: 'hidden_act', act: 'silu', defaultHeadDim: null, qkNorm: false, gemma: false },
  qwen2: { actKey: 'hidden_act', act: 'silu', defaultHeadDim: null, qkNorm: false, gemma: false },
  qwen3: { actKey: 'hidden_act', act: 'silu', defaultHeadDim: 128, qkNorm: true, gemma: false },
  gemma3: { actKey: 'hidden_activation', act: 'gelu_tanh', defaultHeadDim: 256, qkNorm: true, gemma: true },
};

const ACTIVATION_NAMES: Record<'silu' | 'gelu_tanh', string[]> = {
  silu: ['silu'],
  gelu_tanh: ['gelu_pytorch_tanh', 'gelu_new'], // both are the tanh approximation
};

function parseDecoder(raw: Record<string, unknown>, family: Exclude<ModelFamily, 'gpt2'>, file: string): ModelConfig {
  const traits = TRAITS[family];
  const hiddenSize = posInt(raw, 'hidden_size', file, undefined, CONFIG_LIMITS.hidden);
  const numHeads = posInt(raw, 'num_attention_heads', file, undefined, CONFIG_LIMITS.heads);
  const numKvHeads = posInt(raw, 'num_key_value_heads', file, numHeads, CONFIG_LIMITS.heads);
  const numLayers = posInt(raw, 'num_hidden_layers', file, undefined, CONFIG_LIMITS.layers);
  divides(numKvHeads, 'num_key_value_heads', numHeads, 'num_attention_heads', file);
  // head_dim may be set explicitly (then heads × head_dim need not equal hidden_size).
  if (raw.head_dim == null && traits.defaultHeadDim === null) divides(numHeads, 'num_attention_heads', hiddenSize, 'hidden_size', file);
  const headDim = posInt(raw, 'head_dim', file, traits.defaultHeadDim ?? hiddenSize / numHeads, CONFIG_LIMITS.headDim);
  if (headDim % 2 !== 0) throw new FormatError(file, `head_dim (${headDim}) must be even for RoPE`);

  const act = raw[traits.actKey] ?? ACTIVATION_NAMES[traits.act][0];
  if (typeof act !== 'string' || !ACTIVATION_NAMES[traits.act].includes(act)) {
    const names = ACTIVATION_NAMES[traits.act].map((n) => `"${n}"`).join(' or ');
    throw new FormatError(file, `${traits.actKey} ${describeValue(act)} is not supported for ${family} (only ${names})`);
  }
  const llamaBias = family === 'llama' && bool(raw, 'attention_bias', file, false);
  const rope = parseRope(raw, file, traits.gemma ? 1e6 : 10000); // the config classes' defaults
  const window = slidingLayers(raw, family, numLayers, file);
  return {
    arch: 'llama',
    family,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: posInt(raw, 'intermediate_size', file, undefined, CONFIG_LIMITS.intermediate),
    vocabSize: posInt(raw, 'vocab_size', file, undefined, CONFIG_LIMITS.vocab),
    maxPositions: posInt(raw, 'max_position_embeddings', file, undefined, CONFIG_LIMITS.positions),
    normEps: posNumber(raw, 'rms_norm_eps', file, 1e-6), // the families' config default
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    ropeLocalTheta: traits.gemma ? posNumber(raw, 'rope_local_base_freq', file, 10000) : rope.theta,
    layerTypes: window.layerTypes,
    slidingWindow: window.size,
    tieWordEmbeddings: bool(raw, 'tie_word_embeddings', file, traits.gemma),
    activation: traits.act,
    // Qwen2 always has q/k/v biases and no o_proj bias; Qwen3 and Gemma 3 ignore attention_bias=false.
    qkvBias: family === 'qwen2' || llamaBias || (family !== 'llama' && bool(raw, 'attention_bias', file, false)),
    oBias: llamaBias,
    mlpBias: family === 'llama' && bool(raw, 'mlp_bias', file, false),
    qkNorm: traits.qkNorm,
    sandwichNorms: traits.gemma,
    normWeightOffset: traits.gemma ? 1 : 0,
    embeddingScale: traits.gemma ? Math.sqrt(hiddenSize) : 1,
    attentionScale: 1 / Math.sqrt(traits.gemma ? posNumber(raw, 'query_pre_attn_scalar', file, headDim) : headDim),
    raw,
  };
}

/**
 * The RoPE base and scaling. transformers ≤4 uses `rope_theta` + `rope_scaling`; v5 moved both
 * into `rope_parameters: {rope_type, rope_theta, ...}`. Plain ("default"), "linear" and "llama3"
 * are implemented; the other types (dynamic, yarn, longrope, ...) are refused.
 */
function parseRope(raw: Record<string, unknown>, file: string, defaultTheta: number): { theta: number; scaling: RopeScaling | null } {
  let theta = posNumber(raw, 'rope_theta', file, defaultTheta);
  let scaling: RopeScaling | null = null;
  for (const key of ['rope_scaling', 'rope_parameters']) {
    const v = raw[key];
    if (v == null) continue;
    if (!isObject(v)) throw new FormatError(file, `"${key}" must be an object or null, got ${describeValue(v)}`);
    if (key === 'rope_parameters' && v.rope_theta !== undefined) theta = posNumber(v, 'rope_theta', file);
    scaling = parseRopeScaling(v, key, file) ?? scaling;
  }
  return { theta, scaling };
}

function parseRopeScaling(v: Record<string, unknown>, key: string, file: string): RopeScaling | null {
  const type = v.rope_type ?? v.type ?? 'default';
  const field = (name: string) => posNumber(v, name, file);
  try {
    if (type === 'default') return null;
    if (type === 'linear') return { type: 'linear', factor: field('factor') };
    if (type === 'llama3') {
      const s: RopeScaling = {
        type: 'llama3',
        factor: field('factor'),
        lowFreqFactor: field('low_freq_factor'),
        highFreqFactor: field('high_freq_factor'),
        originalMaxPositions: field('original_max_position_embeddings'),
      };
      if (s.highFreqFactor <= s.lowFreqFactor) throw new FormatError(file, 'high_freq_factor must be larger than low_freq_factor');
      return s;
    }
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(file, `${key}: ${e.problem}`);
    throw e;
  }
  throw new FormatError(file, `${key} of type ${describeValue(type)} is not supported (supported: "default", "linear", "llama3")`);
}

/**
 * Which layers attend through a sliding window. Gemma 3 lists them in `layer_types` (older
 * configs give `sliding_window_pattern`: every n-th layer is full). Qwen's `sliding_window`
 * only applies with `use_sliding_window: true`, which is refused; Llama has none.
 */
function slidingLayers(
  raw: Record<string, unknown>,
  family: Exclude<ModelFamily, 'gpt2'>,
  numLayers: number,
  file: string,
): { layerTypes: LayerType[]; size: number } {
  const allFull = { layerTypes: Array<LayerType>(numLayers).fill('full'), size: 0 };
  if (family === 'qwen2' || family === 'qwen3') {
    if (bool(raw, 'use_sliding_window', file, false)) {
      throw new FormatError(file, 'use_sliding_window=true is not supported (set it to false to train with full attention)');
    }
    return allFull;
  }
  if (family === 'llama') return allFull;
  mustBeUnset(raw, 'final_logit_softcapping', file, 'logit soft-capping is not implemented');
  mustBeUnset(raw, 'attn_logit_softcapping', file, 'attention soft-capping is not implemented');
  if (raw.use_bidirectional_attention === true) throw new FormatError(file, 'use_bidirectional_attention=true is not supported');
  const size = posInt(raw, 'sliding_window', file, 4096, CONFIG_LIMITS.positions);
  if (raw.layer_types == null) {
    const pattern = posInt(raw, 'sliding_window_pattern', file, 6, MAX_OTHER_INT);
    return { layerTypes: Array.from({ length: numLayers }, (_, i) => ((i + 1) % pattern === 0 ? 'full' : 'sliding')), size };
  }
  const types = raw.layer_types;
  if (!Array.isArray(types) || types.length !== numLayers) {
    throw new FormatError(file, `"layer_types" must list one type for each of the ${numLayers} layers`);
  }
  const layerTypes = types.map((t, i): LayerType => {
    if (t === 'full_attention') return 'full';
    if (t === 'sliding_attention') return 'sliding';
    throw new FormatError(file, `layer_types[${i}] ${describeValue(t)} is not supported (use "full_attention" or "sliding_attention")`);
  });
  return { layerTypes, size };
}

// ---------------------------------------------------------------------------------------------
// GPT-2

const GPT2_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh']; // both are the tanh approximation

function parseGpt2(raw: Record<string, unknown>, file: string): ModelConfig {
  const hiddenSize = posInt(raw, 'n_embd', file, undefined, CONFIG_LIMITS.hidden);
  const numHeads = posInt(raw, 'n_head', file, undefined, CONFIG_LIMITS.heads);
  divides(numHeads, 'n_head', hiddenSize, 'n_embd', file);

  const act = raw.activation_function ?? 'gelu_new';
  if (typeof act !== 'string' || !GPT2_ACTIVATIONS.includes(act)) {
    throw new FormatError(
      file,
      `activation_function ${describeValue(act)} is not supported for gpt2 (use "gelu_new" or "gelu_pytorch_tanh")`,
    );
  }
  // Options that change GPT-2's attention maths away from the standard model.
  if (raw.scale_attn_weights === false) throw new FormatError(file, 'scale_attn_weights=false is not supported');
  if (raw.scale_attn_by_inverse_layer_idx === true) throw new FormatError(file, 'scale_attn_by_inverse_layer_idx=true is not supported');
  if (raw.add_cross_attention === true) throw new FormatError(file, 'add_cross_attention=true is not supported');

  // n_ctx is the older spelling of n_positions; save_pretrained writes both.
  if (raw.n_positions == null && raw.n_ctx == null) throw new FormatError(file, 'missing "n_positions" (or "n_ctx")');
  const positionsKey = raw.n_positions != null ? 'n_positions' : 'n_ctx';
  const numLayers = posInt(raw, 'n_layer', file, undefined, CONFIG_LIMITS.layers);
  return {
    arch: 'gpt2',
    family: 'gpt2',
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads: numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: raw.n_inner == null ? 4 * hiddenSize : posInt(raw, 'n_inner', file, undefined, CONFIG_LIMITS.intermediate),
    vocabSize: posInt(raw, 'vocab_size', file, undefined, CONFIG_LIMITS.vocab),
    maxPositions: posInt(raw, positionsKey, file, undefined, CONFIG_LIMITS.positions),
    normEps: posNumber(raw, 'layer_norm_epsilon', file, 1e-5), // GPT2Config default
    ropeTheta: 0,
    ropeScaling: null,
    ropeLocalTheta: 0,
    layerTypes: Array<LayerType>(numLayers).fill('full'),
    slidingWindow: 0,
    tieWordEmbeddings: bool(raw, 'tie_word_embeddings', file, true),
    activation: 'gelu_new',
    qkvBias: true,
    oBias: true,
    mlpBias: true,
    qkNorm: false,
    sandwichNorms: false,
    normWeightOffset: 0,
    embeddingScale: 1,
    attentionScale: 1 / Math.sqrt(hiddenSize / numHeads),
    raw,
  };
}

// ---------------------------------------------------------------------------------------------
// Linear layers (what adapters attach to)

export interface LinearModuleInfo {
  layer: number;
  /** Short name that PEFT target_modules usually lists: `q_proj`, `c_attn`, ... */
  name: string;
  /** Module path inside the HF model (PEFT keys are `base_model.model.` + this). */
  modulePath: string;
  /** Canonical HF weight key (`modulePath + '.weight'`). */
  weightKey: string;
  /** HF bias key, or null when the layer has no bias. */
  biasKey: string | null;
  inFeatures: number;
  outFeatures: number;
  /** Stored weight shape: [out, in] for nn.Linear, [in, out] for GPT-2 Conv1D. */
  weightShape: [number, number];
  /** True for GPT-2 Conv1D, whose weight is stored transposed ([in, out]). */
  fanInFanOut: boolean;
}

export function linearModules(config: ModelConfig): LinearModuleInfo[] {
  const out: LinearModuleInfo[] = [];
  for (let layer = 0; layer < config.numLayers; layer++) {
    const layerModules = config.arch === 'llama' ? llamaLinears(config) : gpt2Linears(config);
    for (const [sub, inF, outF, hasBias] of layerModules) out.push(linear(config, layer, sub, inF, outF, hasBias));
  }
  return out;
}

type LinearDef = [path: string, inFeatures: number, outFeatures: number, hasBias: boolean];

function llamaLinears(c: ModelConfig): LinearDef[] {
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  return [
    ['self_attn.q_proj', H, q, c.qkvBias],
    ['self_attn.k_proj', H, kv, c.qkvBias],
    ['self_attn.v_proj', H, kv, c.qkvBias],
    ['self_attn.o_proj', q, H, c.oBias],
    ['mlp.gate_proj', H, I, c.mlpBias],
    ['mlp.up_proj', H, I, c.mlpBias],
    ['mlp.down_proj', I, H, c.mlpBias],
  ];
}

function gpt2Linears(c: ModelConfig): LinearDef[] {
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  return [
    ['attn.c_attn', H, 3 * H, true],
    ['attn.c_proj', H, H, true],
    ['mlp.c_fc', H, I, true],
    ['mlp.c_proj', I, H, true],
  ];
}

function linear(c: ModelConfig, layer: number, sub: string, inF: number, outF: number, hasBias: boolean): LinearModuleInfo {
  const modulePath = `${layerPrefix(c.arch, layer)}.${sub}`;
  const conv1d = c.arch === 'gpt2';
  return {
    layer,
    name: sub.slice(sub.lastIndexOf('.') + 1),
    modulePath,
    weightKey: `${modulePath}.weight`,
    biasKey: hasBias ? `${modulePath}.bias` : null,
    inFeatures: inF,
    outFeatures: outF,
    weightShape: conv1d ? [inF, outF] : [outF, inF],
    fanInFanOut: conv1d,
  };
}

function layerPrefix(arch: Arch, layer: number): string {
  return arch === 'llama' ? `model.layers.${layer}` : `transformer.h.${layer}`;
}

// ---------------------------------------------------------------------------------------------
// Whole-checkpoint weight keys

export interface WeightSpec {
  /** Canonical HF key (GPT-2 keys always carry the `transformer.` prefix). */
  key: string;
  shape: number[];
  /** Only `lm_head.weight` of a tied model: the head reuses the embedding, a copy may or may not be saved. */
  optional: boolean;
}

/** The hidden-size norms of one layer, in the order the layer applies them. */
export function layerNorms(config: ModelConfig): string[] {
  if (config.arch === 'gpt2') return ['ln_1', 'ln_2'];
  if (config.sandwichNorms)
    return ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm'];
  return ['input_layernorm', 'post_attention_layernorm'];
}

/** Every weight the engine reads from a checkpoint of this config, with its expected shape. */
export function expectedWeights(config: ModelConfig): WeightSpec[] {
  const { hiddenSize: H, vocabSize: V } = config;
  const specs: WeightSpec[] = [];
  const add = (key: string, shape: number[], optional = false) => specs.push({ key, shape, optional });
  const byLayer = new Map<number, LinearModuleInfo[]>();
  for (const m of linearModules(config)) byLayer.set(m.layer, [...(byLayer.get(m.layer) ?? []), m]);

  if (config.arch === 'llama') {
    add('model.embed_tokens.weight', [V, H]);
  } else {
    add('transformer.wte.weight', [V, H]);
    add('transformer.wpe.weight', [config.maxPositions, H]);
  }
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = layerPrefix(config.arch, layer);
    for (const n of layerNorms(config)) {
      add(`${prefix}.${n}.weight`, [H]);
      if (config.arch === 'gpt2') add(`${prefix}.${n}.bias`, [H]);
    }
    if (config.qkNorm) {
      add(`${prefix}.self_attn.q_norm.weight`, [config.headDim]);
      add(`${prefix}.self_attn.k_norm.weight`, [config.headDim]);
    }
    for (const m of byLayer.get(layer) ?? []) {
      add(m.weightKey, m.weightShape);
      if (m.biasKey) add(m.biasKey, [m.outFeatures]);
    }
  }
  if (config.arch === 'llama') {
    add('model.norm.weight', [H]);
  } else {
    add('transformer.ln_f.weight', [H]);
    add('transformer.ln_f.bias', [H]);
  }
  add('lm_head.weight', [V, H], config.tieWordEmbeddings);
  return specs;
}

/**
 * Finds the checkpoint's spelling of a canonical key. GPT-2 checkpoints saved from `GPT2Model`
 * (rather than `GPT2LMHeadModel`, e.g. the original `gpt2` repo) lack the `transformer.` prefix.
 */
export function resolveWeightKey(available: Set<string>, canonicalKey: string): string | undefined {
  if (available.has(canonicalKey)) return canonicalKey;
  const prefix = 'transformer.';
  if (canonicalKey.startsWith(prefix)) {
    const bare = canonicalKey.slice(prefix.length);
    if (available.has(bare)) return bare;
  }
  return undefined;
}

/**
 * Checks that every expected weight is present with the right shape and returns a map keyed by
 * canonical key (entries the engine does not use, like GPT-2's `attn.bias` mask buffers, are kept
 * under their original names).
 */
export function canonicalizeWeights<T extends { readonly shape: readonly number[] }>(
  config: ModelConfig,
  weights: ReadonlyMap<string, T>,
  file: string,
): Map<string, T> {
  const available = new Set(weights.keys());
  const out = new Map<string, T>();
  const used = new Set<string>();
  for (const spec of expectedWeights(config)) {
    const found = resolveWeightKey(available, spec.key);
    if (found === undefined) {
      if (spec.optional) continue;
      throw new FormatError(
        file,
        `missing weight ${quote(spec.key)} required by the ${config.family} config${layerHint(config, spec.key)}`,
      );
    }
    const t = weights.get(found)!;
    if (!sameShape(t.shape, spec.shape)) {
      throw new FormatError(
        file,
        `weight ${quote(found)} has shape ${renderShape(t.shape)} but the config implies ${renderShape(spec.shape)}`,
      );
    }
    out.set(spec.key, t);
    used.add(found);
  }
  for (const [k, t] of weights) if (!used.has(k) && !out.has(k)) out.set(k, t);
  return out;
}

/** For a missing per-layer weight: how many layers the config claims, which is often what is wrong. */
function layerHint(config: ModelConfig, key: string): string {
  const m = /^(?:model\.layers|transformer\.h)\.(\d+)\./.exec(key);
  if (!m || Number(m[1]) === 0) return '';
  return ` (the config says ${config.numLayers} layers; the checkpoint has no layer ${m[1]})`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
