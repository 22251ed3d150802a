import { kaimingUniform, seededRandom, uniform } from '../src/adapters/init';
import type { AdapterTensors } from '../src/adapters/types';
import type { ModelConfig } from '../src/formats/hf-config';
import { type AdapterSpec, peftKey, targetedModules } from '../src/formats/peft';
import { LORA_SUFFIX } from '../src/adapters/lora/format';

/**
 * LoRA tensors loaded into both engines for the step comparison: A Kaiming-uniform as PEFT
 * initialises it, and B random rather than PEFT's zeros, since with B = 0 the adapter's
 * contribution to the forward pass and A's gradient would both be zero and a wrong LoRA path
 * could not show in the numerical check.
 */
export function benchLoraTensors(spec: AdapterSpec, config: ModelConfig, seed: number): AdapterTensors {
  const random = seededRandom(seed);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const m of targetedModules(spec, config, 'bench LoRA')) {
    const a = kaimingUniform(spec.rank, m.inFeatures, Math.sqrt(5), random);
    tensors.set(peftKey(m.modulePath, LORA_SUFFIX.loraA), { shape: [spec.rank, m.inFeatures], data: a });
    tensors.set(peftKey(m.modulePath, LORA_SUFFIX.loraB), {
      shape: [m.outFeatures, spec.rank],
      data: uniform(m.outFeatures * spec.rank, 0.05, random),
    });
  }
  return tensors;
}
