import { expectedWeights, parseModelConfig, type ModelConfig } from '../src/formats/hf-config';
import type { WeightMap } from '../src/model/transformer';

/** A random-initialised Llama of the given size, for benchmarks (weights ~ U(−0.05, 0.05), norms 1). */
export function syntheticLlama(dims: {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  vocab: number;
  maxPositions: number;
}): { config: ModelConfig; weights: WeightMap } {
  const config = parseModelConfig(
    JSON.stringify({
      model_type: 'llama',
      hidden_size: dims.hidden,
      num_hidden_layers: dims.layers,
      num_attention_heads: dims.heads,
      num_key_value_heads: dims.kvHeads,
      intermediate_size: dims.intermediate,
      vocab_size: dims.vocab,
      max_position_embeddings: dims.maxPositions,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: true,
      hidden_act: 'silu',
    }),
    'bench config',
  );
  let seed = 12345;
  const random = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const spec of expectedWeights(config)) {
    if (spec.optional) continue;
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const isNorm = spec.shape.length === 1;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = isNorm ? 1 : (random() * 2 - 1) * 0.05;
    weights.set(spec.key, { shape: spec.shape, data });
  }
  return { config, weights };
}
