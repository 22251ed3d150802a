/**
 * The least GPU memory a LoRA training step of a Llama needs, computed from the shapes: the
 * weights, the adapter with its gradients and AdamW moments, and the activations the backward
 * pass must find saved when nothing is recomputed. Everything is f32.
 */
import type { ModelConfig } from '../src/formats/hf-config';
import { type AdapterSpec, targetedModules } from '../src/formats/peft';
import type { MemoryMinimum } from './results';

const F32 = 4;

/**
 * Per layer: the layer input x and rstd (input RMSNorm backward), its output n1 (LoRA A's
 * gradient of q, k, v), q, k, v after RoPE and the attention probabilities (attention
 * backward), the attention output (LoRA A's gradient of o), the mid residual and rstd (the
 * second norm's backward), gate and up (SwiGLU backward) and each adapted module's x·Aᵀ (LoRA
 * B's gradient). The frozen MLP weights need neither n2 nor the SwiGLU output, the frozen tied
 * head not the final norm's output. At the top: the last residual and its rstd, and the logits,
 * whose gradient can overwrite them.
 */
export function savedActivationFloats(config: ModelConfig, spec: AdapterSpec, B: number, S: number): number {
  const T = B * S;
  const { hiddenSize: C, numHeads: H, numKvHeads: KVH, headDim: D, intermediateSize: I, vocabSize: V } = config;
  const perLayer = T * C + T + T * C + T * (H * D + 2 * KVH * D) + B * H * S * S + T * H * D + T * C + T + 2 * T * I;
  const lowRank = targetedModules(spec, config, 'memory minimum').length * T * spec.rank;
  return config.numLayers * perLayer + lowRank + T * C + T + T * V;
}

export function loraStepMinimum(
  config: ModelConfig,
  spec: AdapterSpec,
  parameterCount: number,
  trainable: number,
  B: number,
  S: number,
): MemoryMinimum {
  return {
    weights: parameterCount * F32,
    adapterState: trainable * 4 * F32,
    savedActivations: savedActivationFloats(config, spec, B, S) * F32,
  };
}
