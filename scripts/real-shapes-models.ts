/**
 * The published configs of six small Hub models and the weight keys their checkpoints hold, for
 * scripts/make-real-shapes.ts (which writes random-weight stand-ins) and scripts/real-shapes-check.ts.
 *
 * The key lists are written out here rather than taken from src/formats/hf-config.ts on purpose:
 * they describe what the Hub's files contain, so they stay a check on the engine, not a copy of it.
 * Configs are the Hub's config.json field for field (key order does not matter: HF writes them sorted,
 * and so does the writer). Float formatting differs from Python's json (1e-06 vs 0.000001), which no
 * JSON reader can tell apart.
 */

export type Family = 'llama' | 'gpt2' | 'qwen2' | 'qwen3' | 'gemma3_text';

export interface RealModel {
  /** Folder name under --out, also the --only name. */
  name: string;
  hubId: string;
  family: Family;
  config: Record<string, unknown>;
  generationConfig: Record<string, unknown>;
  /** Modules the LoRA check targets. */
  loraTargets: string[];
  /** Parameter count the Hub model card / a torch count gives (tied head counted once). */
  publishedParams: number;
}

export interface WeightKey {
  key: string;
  shape: number[];
  init: Init;
}

/** How a tensor is initialised: `normal` with this std, or a constant (norm gains, (1 + w) norms, LayerNorm biases). */
export type Init = { kind: 'normal'; std: number } | { kind: 'const'; value: number };

// Gemma 3 270M alternates five sliding-window layers with one global layer (`_sliding_window_pattern` 6).
const GEMMA_LAYER_TYPES = Array.from({ length: 18 }, (_, i) => ((i + 1) % 6 === 0 ? 'full_attention' : 'sliding_attention'));

export const MODELS: RealModel[] = [
  {
    name: 'smollm2-135m',
    hubId: 'HuggingFaceTB/SmolLM2-135M',
    family: 'llama',
    config: {
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 0,
      eos_token_id: 0,
      hidden_act: 'silu',
      hidden_size: 576,
      initializer_range: 0.041666666666666664,
      intermediate_size: 1536,
      is_llama_config: true,
      max_position_embeddings: 8192,
      model_type: 'llama',
      num_attention_heads: 9,
      num_hidden_layers: 30,
      num_key_value_heads: 3,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_interleaved: false,
      rope_scaling: null,
      rope_theta: 100000,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.40.1',
      use_cache: true,
      vocab_size: 49152,
    },
    generationConfig: { _from_model_config: true, bos_token_id: 0, eos_token_id: 0, transformers_version: '4.40.1' },
    loraTargets: ['q_proj', 'v_proj'],
    publishedParams: 134_515_008,
  },
  {
    name: 'gpt2-124m',
    hubId: 'openai-community/gpt2',
    family: 'gpt2',
    // The Hub's gpt2 config predates torch_dtype; it is left out as the Hub has it.
    config: {
      activation_function: 'gelu_new',
      architectures: ['GPT2LMHeadModel'],
      attn_pdrop: 0.1,
      bos_token_id: 50256,
      embd_pdrop: 0.1,
      eos_token_id: 50256,
      initializer_range: 0.02,
      layer_norm_epsilon: 1e-5,
      model_type: 'gpt2',
      n_ctx: 1024,
      n_embd: 768,
      n_head: 12,
      n_layer: 12,
      n_positions: 1024,
      resid_pdrop: 0.1,
      summary_activation: null,
      summary_first_dropout: 0.1,
      summary_proj_to_labels: true,
      summary_type: 'cls_index',
      summary_use_proj: true,
      task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
      vocab_size: 50257,
    },
    generationConfig: { _from_model_config: true, bos_token_id: 50256, eos_token_id: 50256, transformers_version: '4.27.0.dev0' },
    loraTargets: ['c_attn'],
    publishedParams: 124_439_808,
  },
  {
    name: 'qwen2.5-0.5b',
    hubId: 'Qwen/Qwen2.5-0.5B',
    family: 'qwen2',
    config: {
      architectures: ['Qwen2ForCausalLM'],
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151643,
      hidden_act: 'silu',
      hidden_size: 896,
      initializer_range: 0.02,
      intermediate_size: 4864,
      max_position_embeddings: 32768,
      max_window_layers: 24,
      model_type: 'qwen2',
      num_attention_heads: 14,
      num_hidden_layers: 24,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      sliding_window: 32768,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.40.1',
      use_cache: true,
      use_mrope: false,
      use_sliding_window: false,
      vocab_size: 151936,
    },
    generationConfig: {
      bos_token_id: 151643,
      do_sample: false,
      eos_token_id: 151643,
      max_new_tokens: 2048,
      transformers_version: '4.37.0',
    },
    loraTargets: ['q_proj', 'v_proj'],
    publishedParams: 494_032_768,
  },
  {
    name: 'qwen3-0.6b',
    hubId: 'Qwen/Qwen3-0.6B',
    family: 'qwen3',
    config: {
      architectures: ['Qwen3ForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151645,
      head_dim: 128,
      hidden_act: 'silu',
      hidden_size: 1024,
      initializer_range: 0.02,
      intermediate_size: 3072,
      max_position_embeddings: 40960,
      max_window_layers: 28,
      model_type: 'qwen3',
      num_attention_heads: 16,
      num_hidden_layers: 28,
      num_key_value_heads: 8,
      rms_norm_eps: 1e-6,
      rope_scaling: null,
      rope_theta: 1000000,
      sliding_window: null,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.51.0',
      use_cache: true,
      use_sliding_window: false,
      vocab_size: 151936,
    },
    generationConfig: {
      bos_token_id: 151643,
      do_sample: true,
      eos_token_id: [151645, 151643],
      pad_token_id: 151643,
      temperature: 0.6,
      top_k: 20,
      top_p: 0.95,
      transformers_version: '4.51.0',
    },
    loraTargets: ['q_proj', 'v_proj'],
    publishedParams: 596_049_920,
  },
  {
    name: 'gemma-3-270m',
    hubId: 'google/gemma-3-270m',
    family: 'gemma3_text',
    config: {
      _sliding_window_pattern: 6,
      architectures: ['Gemma3ForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      attn_logit_softcapping: null,
      bos_token_id: 2,
      eos_token_id: 1,
      final_logit_softcapping: null,
      head_dim: 256,
      hidden_activation: 'gelu_pytorch_tanh',
      hidden_size: 640,
      initializer_range: 0.02,
      intermediate_size: 2048,
      layer_types: GEMMA_LAYER_TYPES,
      max_position_embeddings: 32768,
      model_type: 'gemma3_text',
      num_attention_heads: 4,
      num_hidden_layers: 18,
      num_key_value_heads: 1,
      pad_token_id: 0,
      query_pre_attn_scalar: 256,
      rms_norm_eps: 1e-6,
      rope_local_base_freq: 10000.0,
      rope_scaling: null,
      rope_theta: 1000000.0,
      sliding_window: 512,
      torch_dtype: 'bfloat16',
      transformers_version: '4.55.0.dev0',
      use_cache: true,
      vocab_size: 262144,
    },
    generationConfig: {
      bos_token_id: 2,
      cache_implementation: 'hybrid',
      do_sample: true,
      eos_token_id: [1, 106],
      pad_token_id: 0,
      top_k: 64,
      top_p: 0.95,
      transformers_version: '4.55.0.dev0',
    },
    loraTargets: ['q_proj', 'v_proj'],
    publishedParams: 268_098_176,
  },
  {
    name: 'llama-3.2-1b',
    hubId: 'meta-llama/Llama-3.2-1B',
    family: 'llama',
    config: {
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 128000,
      eos_token_id: 128001,
      head_dim: 64,
      hidden_act: 'silu',
      hidden_size: 2048,
      initializer_range: 0.02,
      intermediate_size: 8192,
      max_position_embeddings: 131072,
      mlp_bias: false,
      model_type: 'llama',
      num_attention_heads: 32,
      num_hidden_layers: 16,
      num_key_value_heads: 8,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_scaling: {
        factor: 32.0,
        high_freq_factor: 4.0,
        low_freq_factor: 1.0,
        original_max_position_embeddings: 8192,
        rope_type: 'llama3',
      },
      rope_theta: 500000.0,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      transformers_version: '4.45.0.dev0',
      use_cache: true,
      vocab_size: 128256,
    },
    generationConfig: {
      bos_token_id: 128000,
      do_sample: true,
      eos_token_id: 128001,
      temperature: 0.6,
      top_p: 0.9,
      transformers_version: '4.45.0.dev0',
    },
    loraTargets: ['q_proj', 'v_proj'],
    publishedParams: 1_235_814_400,
  },
];

export function findModels(only: string[] | null): RealModel[] {
  if (!only) return MODELS;
  const unknown = only.filter((n) => !MODELS.some((m) => m.name === n));
  if (unknown.length) throw new Error(`unknown model(s) ${unknown.join(', ')}; known: ${MODELS.map((m) => m.name).join(', ')}`);
  return MODELS.filter((m) => only.includes(m.name));
}

// ---------------------------------------------------------------------------------------------
// Weight keys, in the order the HF modules register them (so shards split where the Hub's do)

const num = (c: Record<string, unknown>, k: string) => c[k] as number;
const matrix = (std: number): Init => ({ kind: 'normal', std });
const constant = (value: number): Init => ({ kind: 'const', value });
// Biases get small random values (HF zeroes them) so a kernel that drops a bias changes the loss.
const BIAS: Init = { kind: 'normal', std: 0.02 };

export function weightKeys(m: RealModel): WeightKey[] {
  return m.family === 'gpt2' ? gpt2Keys(m.config) : decoderKeys(m.family, m.config);
}

/** Llama, Qwen2, Qwen3 and Gemma 3: `model.layers.N.*`, tied head (no `lm_head.weight` stored). */
function decoderKeys(family: Family, c: Record<string, unknown>): WeightKey[] {
  const H = num(c, 'hidden_size');
  const heads = num(c, 'num_attention_heads');
  const headDim = (c.head_dim as number | undefined) ?? H / heads;
  const q = heads * headDim;
  const kv = num(c, 'num_key_value_heads') * headDim;
  const I = num(c, 'intermediate_size');
  const std = (c.initializer_range as number | undefined) ?? 0.02;
  // Gemma's norms compute x·(1 + w): the identity gain is w = 0.
  const gain = constant(family === 'gemma3_text' ? 0 : 1);
  const qkvBias = family === 'qwen2' || c.attention_bias === true;

  const keys: WeightKey[] = [{ key: 'model.embed_tokens.weight', shape: [num(c, 'vocab_size'), H], init: matrix(std) }];
  for (let l = 0; l < num(c, 'num_hidden_layers'); l++) {
    const p = `model.layers.${l}`;
    const add = (key: string, shape: number[], init: Init) => keys.push({ key: `${p}.${key}`, shape, init });
    for (const [name, out] of [
      ['q_proj', q],
      ['k_proj', kv],
      ['v_proj', kv],
    ] as const) {
      add(`self_attn.${name}.weight`, [out, H], matrix(std));
      if (qkvBias) add(`self_attn.${name}.bias`, [out], BIAS);
    }
    add('self_attn.o_proj.weight', [H, q], matrix(std));
    if (family === 'qwen3' || family === 'gemma3_text') {
      add('self_attn.q_norm.weight', [headDim], gain);
      add('self_attn.k_norm.weight', [headDim], gain);
    }
    add('mlp.gate_proj.weight', [I, H], matrix(std));
    add('mlp.up_proj.weight', [I, H], matrix(std));
    add('mlp.down_proj.weight', [H, I], matrix(std));
    add('input_layernorm.weight', [H], gain);
    add('post_attention_layernorm.weight', [H], gain);
    if (family === 'gemma3_text') {
      add('pre_feedforward_layernorm.weight', [H], gain);
      add('post_feedforward_layernorm.weight', [H], gain);
    }
  }
  keys.push({ key: 'model.norm.weight', shape: [H], init: gain });
  return keys;
}

/** GPT2LMHeadModel: `transformer.*`, Conv1D weights stored [in, out], tied head. */
function gpt2Keys(c: Record<string, unknown>): WeightKey[] {
  const H = num(c, 'n_embd');
  const I = (c.n_inner as number | null | undefined) ?? 4 * H;
  const std = (c.initializer_range as number | undefined) ?? 0.02;
  const keys: WeightKey[] = [
    { key: 'transformer.wte.weight', shape: [num(c, 'vocab_size'), H], init: matrix(std) },
    { key: 'transformer.wpe.weight', shape: [num(c, 'n_positions'), H], init: matrix(std) },
  ];
  const layerNorm = (key: string) => {
    keys.push({ key: `${key}.weight`, shape: [H], init: constant(1) });
    keys.push({ key: `${key}.bias`, shape: [H], init: constant(0) });
  };
  const conv1d = (key: string, inF: number, outF: number) => {
    keys.push({ key: `${key}.weight`, shape: [inF, outF], init: matrix(std) });
    keys.push({ key: `${key}.bias`, shape: [outF], init: BIAS });
  };
  for (let l = 0; l < num(c, 'n_layer'); l++) {
    const p = `transformer.h.${l}`;
    layerNorm(`${p}.ln_1`);
    conv1d(`${p}.attn.c_attn`, H, 3 * H);
    conv1d(`${p}.attn.c_proj`, H, H);
    layerNorm(`${p}.ln_2`);
    conv1d(`${p}.mlp.c_fc`, H, I);
    conv1d(`${p}.mlp.c_proj`, I, H);
  }
  layerNorm('transformer.ln_f');
  return keys;
}

export const elementCount = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
