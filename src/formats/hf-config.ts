/**
 * Hugging Face `config.json` → one normalized ModelConfig for the two supported architectures,
 * plus the weight-key conventions of their checkpoints (what `LlamaForCausalLM` and
 * `GPT2LMHeadModel` write with `save_pretrained`).
 *
 * Anything that would change the maths but that the engine does not implement (rope scaling,
 * another activation, GPT-2's per-layer attention scaling, ...) is rejected here with a message,
 * rather than silently producing a different model.
 */
import { FormatError, describeValue, isObject, parseJsonObject } from './errors';

export type Arch = 'llama' | 'gpt2';

export interface ModelConfig {
  arch: Arch;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  normEps: number;
  /** RoPE base; 0 for gpt2 (learned positions). */
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  activation: 'silu' | 'gelu_new';
  attentionBias: boolean;
  mlpBias: boolean;
  raw: Record<string, unknown>;
}

export function parseModelConfig(json: string, file: string): ModelConfig {
  const raw = parseJsonObject(json, file, 'model config');
  const type = raw.model_type;
  if (type === 'llama') return parseLlama(raw, file);
  if (type === 'gpt2') return parseGpt2(raw, file);
  if (type === undefined) throw new FormatError(file, 'missing "model_type" (expected "llama" or "gpt2")');
  throw new FormatError(file, `model_type ${describeValue(type)} is not supported (supported: "llama", "gpt2")`);
}

// ---------------------------------------------------------------------------------------------
// Field readers

function posInt(raw: Record<string, unknown>, key: string, file: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (v === undefined) throw new FormatError(file, `missing "${key}"`);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new FormatError(file, `"${key}" must be a positive integer, got ${describeValue(v)}`);
  }
  return v;
}

function posNumber(raw: Record<string, unknown>, key: string, file: string, fallback: number): number {
  const v = raw[key] ?? fallback;
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

// ---------------------------------------------------------------------------------------------
// Llama

function parseLlama(raw: Record<string, unknown>, file: string): ModelConfig {
  const hiddenSize = posInt(raw, 'hidden_size', file);
  const numHeads = posInt(raw, 'num_attention_heads', file);
  const numKvHeads = posInt(raw, 'num_key_value_heads', file, numHeads);
  divides(numKvHeads, 'num_key_value_heads', numHeads, 'num_attention_heads', file);
  // head_dim may be set explicitly (then heads × head_dim need not equal hidden_size).
  if (raw.head_dim == null) divides(numHeads, 'num_attention_heads', hiddenSize, 'hidden_size', file);
  const headDim = posInt(raw, 'head_dim', file, hiddenSize / numHeads);

  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') throw new FormatError(file, `hidden_act ${describeValue(act)} is not supported for llama (only "silu")`);
  const ropeTheta = llamaRopeTheta(raw, file);

  return {
    arch: 'llama',
    hiddenSize,
    numLayers: posInt(raw, 'num_hidden_layers', file),
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: posInt(raw, 'intermediate_size', file),
    vocabSize: posInt(raw, 'vocab_size', file),
    maxPositions: posInt(raw, 'max_position_embeddings', file),
    normEps: posNumber(raw, 'rms_norm_eps', file, 1e-6), // LlamaConfig default
    ropeTheta,
    tieWordEmbeddings: bool(raw, 'tie_word_embeddings', file, false),
    activation: 'silu',
    attentionBias: bool(raw, 'attention_bias', file, false),
    mlpBias: bool(raw, 'mlp_bias', file, false),
    raw,
  };
}

/**
 * Plain RoPE only. transformers ≤4 uses `rope_theta` + `rope_scaling`; v5 moved both into
 * `rope_parameters: {rope_type, rope_theta}`. A "default" rope type is plain RoPE; any other
 * (linear, dynamic, yarn, llama3, ...) rescales frequencies, which the engine does not do.
 */
function llamaRopeTheta(raw: Record<string, unknown>, file: string): number {
  for (const key of ['rope_scaling', 'rope_parameters']) {
    const v = raw[key];
    if (v == null) continue;
    if (!isObject(v)) throw new FormatError(file, `"${key}" must be an object or null, got ${describeValue(v)}`);
    const type = v.rope_type ?? v.type ?? 'default';
    if (type !== 'default') {
      throw new FormatError(file, `${key} of type ${describeValue(type)} is not supported (only plain RoPE; remove rope scaling)`);
    }
    if (key === 'rope_parameters' && v.rope_theta !== undefined) return posNumber(v, 'rope_theta', file, 10000);
  }
  return posNumber(raw, 'rope_theta', file, 10000);
}

// ---------------------------------------------------------------------------------------------
// GPT-2

const GPT2_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh']; // both are the tanh approximation

function parseGpt2(raw: Record<string, unknown>, file: string): ModelConfig {
  const hiddenSize = posInt(raw, 'n_embd', file);
  const numHeads = posInt(raw, 'n_head', file);
  divides(numHeads, 'n_head', hiddenSize, 'n_embd', file);

  const act = raw.activation_function ?? 'gelu_new';
  if (typeof act !== 'string' || !GPT2_ACTIVATIONS.includes(act)) {
    throw new FormatError(file, `activation_function ${describeValue(act)} is not supported for gpt2 (use "gelu_new" or "gelu_pytorch_tanh")`);
  }
  // Options that change GPT-2's attention maths away from the standard model.
  if (raw.scale_attn_weights === false) throw new FormatError(file, 'scale_attn_weights=false is not supported');
  if (raw.scale_attn_by_inverse_layer_idx === true) throw new FormatError(file, 'scale_attn_by_inverse_layer_idx=true is not supported');
  if (raw.add_cross_attention === true) throw new FormatError(file, 'add_cross_attention=true is not supported');

  // n_ctx is the older spelling of n_positions; save_pretrained writes both.
  if (raw.n_positions == null && raw.n_ctx == null) throw new FormatError(file, 'missing "n_positions" (or "n_ctx")');
  const positionsKey = raw.n_positions != null ? 'n_positions' : 'n_ctx';
  return {
    arch: 'gpt2',
    hiddenSize,
    numLayers: posInt(raw, 'n_layer', file),
    numHeads,
    numKvHeads: numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: raw.n_inner == null ? 4 * hiddenSize : posInt(raw, 'n_inner', file),
    vocabSize: posInt(raw, 'vocab_size', file),
    maxPositions: posInt(raw, positionsKey, file),
    normEps: posNumber(raw, 'layer_norm_epsilon', file, 1e-5), // GPT2Config default
    ropeTheta: 0,
    tieWordEmbeddings: bool(raw, 'tie_word_embeddings', file, true),
    activation: 'gelu_new',
    attentionBias: true,
    mlpBias: true,
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
    ['self_attn.q_proj', H, q, c.attentionBias],
    ['self_attn.k_proj', H, kv, c.attentionBias],
    ['self_attn.v_proj', H, kv, c.attentionBias],
    ['self_attn.o_proj', q, H, c.attentionBias],
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
    const norms = config.arch === 'llama' ? ['input_layernorm', 'post_attention_layernorm'] : ['ln_1', 'ln_2'];
    for (const n of norms) {
      add(`${prefix}.${n}.weight`, [H]);
      if (config.arch === 'gpt2') add(`${prefix}.${n}.bias`, [H]);
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
      throw new FormatError(file, `missing weight ${JSON.stringify(spec.key)} required by the ${config.arch} config`);
    }
    const t = weights.get(found)!;
    if (!sameShape(t.shape, spec.shape)) {
      throw new FormatError(
        file,
        `weight ${JSON.stringify(found)} has shape [${t.shape.join(', ')}] but the config implies [${spec.shape.join(', ')}]`,
      );
    }
    out.set(spec.key, t);
    used.add(found);
  }
  for (const [k, t] of weights) if (!used.has(k) && !out.has(k)) out.set(k, t);
  return out;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
