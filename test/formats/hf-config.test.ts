import { describe, it, expect } from 'vitest';
import { canonicalizeWeights, expectedWeights, linearModules, parseModelConfig, resolveWeightKey } from '../../src/formats/hf-config';
import { parseSafetensors } from '../../src/formats/safetensors';
import { CASES, HAVE_FIXTURES, expectFormatError, fixtureBytes, fixtureText } from './fixtures';

const F = 'config.json';

const LLAMA = {
  model_type: 'llama',
  hidden_size: 32,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 64,
  num_hidden_layers: 2,
  vocab_size: 67,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  max_position_embeddings: 128,
  tie_word_embeddings: false,
  hidden_act: 'silu',
};
const GPT2 = {
  model_type: 'gpt2',
  n_embd: 32,
  n_head: 4,
  n_layer: 2,
  vocab_size: 67,
  n_positions: 64,
  n_ctx: 64,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
};
const cfg = (base: object, patch: Record<string, unknown> = {}) => JSON.stringify({ ...base, ...patch });

describe('parseModelConfig', () => {
  it('normalizes a llama config', () => {
    const c = parseModelConfig(cfg(LLAMA), F);
    expect({ ...c, raw: undefined }).toEqual({
      arch: 'llama',
      family: 'llama',
      hiddenSize: 32,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 8,
      intermediateSize: 64,
      vocabSize: 67,
      maxPositions: 128,
      normEps: 1e-5,
      ropeTheta: 10000,
      ropeScaling: null,
      ropeLocalTheta: 10000,
      layerTypes: ['full', 'full'],
      slidingWindow: 0,
      tieWordEmbeddings: false,
      activation: 'silu',
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      qkNorm: false,
      sandwichNorms: false,
      normWeightOffset: 0,
      embeddingScale: 1,
      attentionScale: 1 / Math.sqrt(8),
      raw: undefined,
    });
    expect(c.raw.model_type).toBe('llama');
  });

  it('applies llama defaults and explicit head_dim / biases', () => {
    const { num_key_value_heads: _kv, rope_theta: _rt, tie_word_embeddings: _t, ...bare } = LLAMA;
    const c = parseModelConfig(cfg(bare), F);
    expect([c.numKvHeads, c.ropeTheta, c.tieWordEmbeddings]).toEqual([4, 10000, false]);
    const d = parseModelConfig(cfg(LLAMA, { head_dim: 16, attention_bias: true, mlp_bias: true, rope_scaling: null }), F);
    expect([d.headDim, d.qkvBias, d.oBias, d.mlpBias, d.attentionScale]).toEqual([16, true, true, true, 0.25]);
    const v5 = parseModelConfig(cfg(LLAMA, { rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 500000 } }), F);
    expect(v5.ropeTheta).toBe(500000);
  });

  it('normalizes a gpt2 config', () => {
    const c = parseModelConfig(cfg(GPT2), F);
    expect({ ...c, raw: undefined }).toEqual({
      arch: 'gpt2',
      family: 'gpt2',
      hiddenSize: 32,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 4,
      headDim: 8,
      intermediateSize: 128,
      vocabSize: 67,
      maxPositions: 64,
      normEps: 1e-5,
      ropeTheta: 0,
      ropeScaling: null,
      ropeLocalTheta: 0,
      layerTypes: ['full', 'full'],
      slidingWindow: 0,
      tieWordEmbeddings: true,
      activation: 'gelu_new',
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      qkNorm: false,
      sandwichNorms: false,
      normWeightOffset: 0,
      embeddingScale: 1,
      attentionScale: 1 / Math.sqrt(8),
      raw: undefined,
    });
  });

  it('reads Llama 3.x and linear rope scaling, in both the v4 and the v5 spelling', () => {
    const llama3 = { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
    const expected = { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 };
    expect(parseModelConfig(cfg(LLAMA, { rope_scaling: llama3, rope_theta: 500000 }), F)).toMatchObject({
      ropeScaling: expected,
      ropeTheta: 500000,
    });
    const v5 = parseModelConfig(cfg(LLAMA, { rope_theta: undefined, rope_parameters: { ...llama3, rope_theta: 500000 } }), F);
    expect(v5).toMatchObject({ ropeScaling: expected, ropeTheta: 500000 });
    expect(parseModelConfig(cfg(LLAMA, { rope_scaling: { type: 'linear', factor: 2 } }), F).ropeScaling).toEqual({
      type: 'linear',
      factor: 2,
    });
  });

  it('qwen2: q/k/v biases but none on o_proj, sliding_window ignored while use_sliding_window is false', () => {
    const c = parseModelConfig(cfg(LLAMA, { model_type: 'qwen2', use_sliding_window: false, sliding_window: 4, rope_theta: 1e6 }), F);
    expect(c).toMatchObject({
      arch: 'llama',
      family: 'qwen2',
      qkvBias: true,
      oBias: false,
      qkNorm: false,
      slidingWindow: 0,
      ropeTheta: 1e6,
    });
    expect(
      linearModules(c)
        .filter((m) => m.biasKey)
        .map((m) => m.name)
        .slice(0, 3),
    ).toEqual(['q_proj', 'k_proj', 'v_proj']);
  });

  it('qwen3: explicit head_dim (q wider than hidden), q/k norms, and head_dim 128 when absent', () => {
    const c = parseModelConfig(cfg(LLAMA, { model_type: 'qwen3', head_dim: 16 }), F);
    expect(c).toMatchObject({ family: 'qwen3', headDim: 16, qkNorm: true, qkvBias: false, sandwichNorms: false, normWeightOffset: 0 });
    expect(linearModules(c)[0]).toMatchObject({ name: 'q_proj', inFeatures: 32, outFeatures: 64 });
    expect(expectedWeights(c).map((w) => w.key)).toContain('model.layers.1.self_attn.k_norm.weight');
    expect(parseModelConfig(cfg(LLAMA, { model_type: 'qwen3' }), F).headDim).toBe(128);
  });

  it('gemma3_text: scales, (1 + w) norms, four norms a layer, GeGLU, layer types and their RoPE bases', () => {
    const gemma = {
      ...LLAMA,
      model_type: 'gemma3_text',
      hidden_activation: 'gelu_pytorch_tanh',
      head_dim: 16,
      query_pre_attn_scalar: 24,
      sliding_window: 4,
      rope_local_base_freq: 10000,
      rope_theta: 1e6,
      layer_types: ['sliding_attention', 'full_attention'],
      tie_word_embeddings: undefined,
    };
    const c = parseModelConfig(cfg(gemma), F);
    expect(c).toMatchObject({
      family: 'gemma3',
      activation: 'gelu_tanh',
      qkNorm: true,
      sandwichNorms: true,
      normWeightOffset: 1,
      embeddingScale: Math.sqrt(32),
      attentionScale: 1 / Math.sqrt(24),
      layerTypes: ['sliding', 'full'],
      slidingWindow: 4,
      ropeTheta: 1e6,
      ropeLocalTheta: 10000,
      tieWordEmbeddings: true,
    });
    expect(
      expectedWeights(c)
        .filter((w) => w.key.startsWith('model.layers.0.') && w.key.includes('norm'))
        .map((w) => w.key),
    ).toEqual([
      'model.layers.0.input_layernorm.weight',
      'model.layers.0.post_attention_layernorm.weight',
      'model.layers.0.pre_feedforward_layernorm.weight',
      'model.layers.0.post_feedforward_layernorm.weight',
      'model.layers.0.self_attn.q_norm.weight',
      'model.layers.0.self_attn.k_norm.weight',
    ]);
    // Older configs give the pattern instead of the list: every 6th layer is full.
    const old = parseModelConfig(cfg({ ...gemma, num_hidden_layers: 7, layer_types: undefined, sliding_window_pattern: 6 }), F);
    expect(old.layerTypes).toEqual(['sliding', 'sliding', 'sliding', 'sliding', 'sliding', 'full', 'sliding']);
  });

  it('reads gpt2 n_inner, n_ctx fallback, untied head and gelu_pytorch_tanh', () => {
    const { n_positions: _p, ...noPositions } = GPT2;
    const c = parseModelConfig(
      cfg(noPositions, { n_inner: 80, n_ctx: 48, tie_word_embeddings: false, activation_function: 'gelu_pytorch_tanh' }),
      F,
    );
    expect([c.intermediateSize, c.maxPositions, c.tieWordEmbeddings, c.activation]).toEqual([80, 48, false, 'gelu_new']);
    expect(parseModelConfig(cfg(GPT2, { n_inner: null }), F).intermediateSize).toBe(128);
  });

  const bad: Array<[string, string, string]> = [
    ['not JSON', '{"model_type": ', 'not valid JSON'],
    ['not an object', '[1]', 'must be a JSON object'],
    ['no model_type', cfg({ hidden_size: 4 }), 'missing "model_type"'],
    ['unknown model_type', cfg(LLAMA, { model_type: 'mistral' }), 'model_type the string "mistral" is not supported'],
    ['missing hidden_size', cfg(LLAMA, { hidden_size: undefined }), 'missing "hidden_size"'],
    ['zero layers', cfg(LLAMA, { num_hidden_layers: 0 }), '"num_hidden_layers" must be a positive integer'],
    ['fractional vocab', cfg(LLAMA, { vocab_size: 66.5 }), '"vocab_size" must be a positive integer'],
    ['string size', cfg(LLAMA, { intermediate_size: '64' }), '"intermediate_size" must be a positive integer'],
    [
      'kv heads not dividing',
      cfg(LLAMA, { num_key_value_heads: 3 }),
      'num_attention_heads (4) is not divisible by num_key_value_heads (3)',
    ],
    ['heads not dividing hidden', cfg(LLAMA, { num_attention_heads: 5, num_key_value_heads: 5 }), 'hidden_size (32) is not divisible'],
    ['llama gelu', cfg(LLAMA, { hidden_act: 'gelu' }), 'hidden_act the string "gelu" is not supported'],
    [
      'dynamic rope',
      cfg(LLAMA, { rope_scaling: { type: 'dynamic', factor: 2 } }),
      'rope_scaling of type the string "dynamic" is not supported',
    ],
    ['yarn rope (v5)', cfg(LLAMA, { rope_parameters: { rope_type: 'yarn', factor: 4 } }), 'rope_parameters of type the string "yarn"'],
    ['llama3 rope incomplete', cfg(LLAMA, { rope_scaling: { rope_type: 'llama3', factor: 8 } }), 'rope_scaling: missing "low_freq_factor"'],
    [
      'llama3 rope bands',
      cfg(LLAMA, {
        rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 64 },
      }),
      'high_freq_factor must be larger',
    ],
    [
      'qwen sliding window',
      cfg(LLAMA, { model_type: 'qwen2', use_sliding_window: true, sliding_window: 4 }),
      'use_sliding_window=true is not supported',
    ],
    ['qwen3 gelu', cfg(LLAMA, { model_type: 'qwen3', hidden_act: 'gelu' }), 'hidden_act the string "gelu" is not supported for qwen3'],
    [
      'gemma softcapping',
      cfg(LLAMA, { model_type: 'gemma3_text', final_logit_softcapping: 30 }),
      '"final_logit_softcapping" 30 is not supported',
    ],
    [
      'gemma layer types',
      cfg(LLAMA, { model_type: 'gemma3_text', layer_types: ['full_attention'] }),
      '"layer_types" must list one type for each of the 2 layers',
    ],
    [
      'gemma unknown layer type',
      cfg(LLAMA, { model_type: 'gemma3_text', layer_types: ['full_attention', 'chunked_attention'] }),
      'layer_types[1]',
    ],
    ['odd head_dim', cfg(LLAMA, { head_dim: 7 }), 'head_dim (7) must be even'],
    ['negative eps', cfg(LLAMA, { rms_norm_eps: -1 }), '"rms_norm_eps" must be a positive number'],
    ['tie not boolean', cfg(LLAMA, { tie_word_embeddings: 'yes' }), '"tie_word_embeddings" must be true or false'],
    ['gpt2 relu', cfg(GPT2, { activation_function: 'relu' }), 'activation_function the string "relu" is not supported'],
    ['gpt2 exact gelu', cfg(GPT2, { activation_function: 'gelu' }), 'use "gelu_new" or "gelu_pytorch_tanh"'],
    ['gpt2 heads not dividing', cfg(GPT2, { n_head: 5 }), 'n_embd (32) is not divisible by n_head (5)'],
    ['gpt2 no positions', cfg(GPT2, { n_positions: undefined, n_ctx: undefined }), 'missing "n_positions"'],
    ['gpt2 layer-idx scaling', cfg(GPT2, { scale_attn_by_inverse_layer_idx: true }), 'scale_attn_by_inverse_layer_idx'],
  ];
  for (const [name, json, fragment] of bad)
    it(`rejects: ${name}`, () => void expectFormatError(() => parseModelConfig(json, F), F, fragment));
});

describe('linearModules', () => {
  it('lists llama projections with HF keys and [out, in] shapes', () => {
    const mods = linearModules(parseModelConfig(cfg(LLAMA), F));
    expect(mods).toHaveLength(14);
    expect(mods.slice(0, 7).map((m) => [m.name, m.inFeatures, m.outFeatures])).toEqual([
      ['q_proj', 32, 32],
      ['k_proj', 32, 16],
      ['v_proj', 32, 16],
      ['o_proj', 32, 32],
      ['gate_proj', 32, 64],
      ['up_proj', 32, 64],
      ['down_proj', 64, 32],
    ]);
    const k1 = mods.find((m) => m.layer === 1 && m.name === 'k_proj')!;
    expect(k1).toEqual({
      layer: 1,
      name: 'k_proj',
      modulePath: 'model.layers.1.self_attn.k_proj',
      weightKey: 'model.layers.1.self_attn.k_proj.weight',
      biasKey: null,
      inFeatures: 32,
      outFeatures: 16,
      weightShape: [16, 32],
      fanInFanOut: false,
    });
  });

  it('lists GPT-2 Conv1D layers with [in, out] shapes and biases', () => {
    const mods = linearModules(parseModelConfig(cfg(GPT2), F));
    expect(mods).toHaveLength(8);
    expect(mods.slice(4).map((m) => [m.modulePath, m.name, m.inFeatures, m.outFeatures, m.fanInFanOut])).toEqual([
      ['transformer.h.1.attn.c_attn', 'c_attn', 32, 96, true],
      ['transformer.h.1.attn.c_proj', 'c_proj', 32, 32, true],
      ['transformer.h.1.mlp.c_fc', 'c_fc', 32, 128, true],
      ['transformer.h.1.mlp.c_proj', 'c_proj', 128, 32, true],
    ]);
    expect(mods[2]!.weightShape).toEqual([32, 128]);
    expect(mods[2]!.biasKey).toBe('transformer.h.0.mlp.c_fc.bias');
  });
});

describe('resolveWeightKey', () => {
  it('finds GPT-2 keys with or without the transformer. prefix', () => {
    expect(resolveWeightKey(new Set(['transformer.wte.weight']), 'transformer.wte.weight')).toBe('transformer.wte.weight');
    expect(resolveWeightKey(new Set(['wte.weight']), 'transformer.wte.weight')).toBe('wte.weight');
    expect(resolveWeightKey(new Set(['h.0.ln_1.weight']), 'transformer.h.0.ln_1.weight')).toBe('h.0.ln_1.weight');
    expect(resolveWeightKey(new Set(['wte.weight']), 'transformer.wpe.weight')).toBeUndefined();
    expect(resolveWeightKey(new Set(['lm_head.weight']), 'lm_head.weight')).toBe('lm_head.weight');
  });
});

describe.skipIf(!HAVE_FIXTURES)('fixture configs and checkpoints', () => {
  for (const c of CASES) {
    it(`${c}: config parses and every expected weight has the configured shape`, () => {
      const config = parseModelConfig(fixtureText(c, 'config.json'), `${c}/config.json`);
      expect(config.arch).toBe(c.startsWith('gpt2') ? 'gpt2' : 'llama');
      expect(config.family).toBe(c.split('-')[0]!.replace(/^llama3$/, 'llama'));
      const { tensors } = parseSafetensors(fixtureBytes(c, 'model.safetensors'), `${c}/model.safetensors`);
      for (const spec of expectedWeights(config)) {
        const t = tensors.get(spec.key);
        if (spec.optional && !t) continue;
        expect(t, spec.key).toBeDefined();
        expect(t!.shape, spec.key).toEqual(spec.shape);
      }
      // No weight in the checkpoint that the config does not account for.
      const known = new Set(expectedWeights(config).map((s) => s.key));
      expect([...tensors.keys()].filter((k) => !known.has(k))).toEqual([]);
      expect(canonicalizeWeights(config, tensors, 'm').size).toBe(tensors.size);
    });
  }

  it('tied llama (llama-full) has no lm_head; untied (llama-lora-qv) has one', () => {
    const keys = (c: string) => parseSafetensors(fixtureBytes(c, 'model.safetensors'), c).tensors;
    expect(keys('llama-full').has('lm_head.weight')).toBe(false);
    expect(keys('llama-lora-qv').has('lm_head.weight')).toBe(true);
  });

  it('canonicalizeWeights reports missing weights and wrong shapes', () => {
    const config = parseModelConfig(fixtureText('llama-lora-qv', 'config.json'), F);
    const { tensors } = parseSafetensors(fixtureBytes('llama-lora-qv', 'model.safetensors'), 'm');
    const missing = new Map(tensors);
    missing.delete('lm_head.weight');
    expectFormatError(() => canonicalizeWeights(config, missing, 'm'), 'm', 'missing weight "lm_head.weight"');
    const wrong = new Map(tensors);
    wrong.set('model.norm.weight', { ...tensors.get('model.norm.weight')!, shape: [16, 2] });
    expectFormatError(() => canonicalizeWeights(config, wrong, 'm'), 'm', 'has shape [16, 2] but the config implies [32]');
  });
});
