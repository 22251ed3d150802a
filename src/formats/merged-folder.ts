/**
 * A merged model as a complete Hugging Face folder: the weights are written in float32, so
 * config.json says so (a source checkpoint's "bfloat16" would make from_pretrained cast them
 * down, and make the folder's size look wrong), and the tokenizer files go with it.
 */

import { linearModules, type ModelConfig } from './hf-config';
import type { TensorToWrite } from './safetensors';

/** config.json with `torch_dtype` (and transformers ≥ 4.56's `dtype`, where present) set to float32. */
export function float32ConfigJson(configJson: string): string {
  const config = JSON.parse(configJson) as Record<string, unknown>;
  config.torch_dtype = 'float32';
  if ('dtype' in config) config.dtype = 'float32';
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * The full model with W' = W + ΔW in every adapted layer, under HF keys (what
 * `merge_and_unload().save_pretrained()` writes). ΔW is [out, in]; GPT-2's Conv1D stores [in, out].
 * A tied lm_head is left out, as transformers does.
 */
export function mergedTensors(
  config: ModelConfig,
  weights: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>,
  deltas: ReadonlyMap<string, Float32Array>,
): TensorToWrite[] {
  const modules = new Map(linearModules(config).map((m) => [m.weightKey, m]));
  const out: TensorToWrite[] = [];
  for (const [key, w] of weights) {
    if (key === 'lm_head.weight' && config.tieWordEmbeddings) continue;
    const m = modules.get(key);
    const delta = m ? deltas.get(m.modulePath) : undefined;
    if (!m || !delta) {
      out.push({ name: key, shape: w.shape, data: w.data });
      continue;
    }
    const merged = new Float32Array(w.data);
    const { inFeatures: inF, outFeatures: outF } = m;
    for (let i = 0; i < outF; i++) {
      for (let j = 0; j < inF; j++) {
        const at = m.fanInFanOut ? j * outF + i : i * inF + j;
        merged[at] = merged[at]! + delta[i * inF + j]!;
      }
    }
    out.push({ name: key, shape: w.shape, data: merged });
  }
  return out;
}
