import type { LinearModuleInfo } from '../../formats/hf-config';
import type { AdapterMethod } from '..';
import { type AdapterSpec, type AdapterTensorSpec, configReaders, PyFloat, peftKey } from '../../formats/peft-fields';
import type { CommonConfigFields, MethodFormat } from '../types';

/** PEFT's key suffixes of LoRA's and DoRA's tensors, after `base_model.model.<module path>.`. */
export const LORA_SUFFIX = {
  loraA: 'lora_A.weight',
  loraB: 'lora_B.weight',
  magnitude: 'lora_magnitude_vector', // no ".weight": PEFT strips it for DoRA (see fixtures)
} as const;

// PEFT's LoraConfig defaults, for a hand-written config that leaves a field out.
const LORA_DEFAULTS = { r: 8, lora_alpha: 8 };

/** LoRA's config, which DoRA shares (peft_type LORA with use_dora: claims() picked the method). */
export function parseLowRank(
  raw: Readonly<Record<string, unknown>>,
  file: string,
  common: CommonConfigFields,
  method: AdapterMethod,
): AdapterSpec {
  const read = configReaders(raw, file);
  read.bool('use_dora', false); // claims() looked at it; a non-boolean is an error, not LoRA
  const alpha = read.finite('lora_alpha', LORA_DEFAULTS.lora_alpha);
  if (alpha <= 0) read.fail(`"lora_alpha" must be positive, got ${alpha}`);
  return {
    method,
    rank: read.posInt('r', LORA_DEFAULTS.r),
    alpha,
    rslora: read.bool('use_rslora', false),
    dropout: read.dropout('lora_dropout'),
    ...common,
    options: {},
  };
}

export function lowRankConfigFields(
  spec: AdapterSpec,
  targets: string[],
  baseModelName: string | null,
  useDora: boolean,
): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: spec.rank,
    lora_alpha: spec.alpha,
    lora_dropout: new PyFloat(spec.dropout),
    target_modules: targets,
    bias: 'none',
    fan_in_fan_out: spec.fanInFanOut,
    use_rslora: spec.rslora,
    use_dora: useDora,
    init_lora_weights: true,
    base_model_name_or_path: baseModelName,
    modules_to_save: null,
    inference_mode: false,
  };
}

/** A [r, in] and B [out, r] per module, stored as for nn.Linear even on GPT-2's Conv1D; DoRA adds m [out]. */
export function lowRankTensors(spec: AdapterSpec, modules: readonly LinearModuleInfo[], magnitude: boolean): AdapterTensorSpec[] {
  const r = spec.rank;
  return modules.flatMap((m) => {
    const t = (kind: keyof typeof LORA_SUFFIX, shape: number[]): AdapterTensorSpec => ({
      key: peftKey(m.modulePath, LORA_SUFFIX[kind]),
      kind,
      shape,
      trainable: true,
      module: m,
    });
    const ab = [t('loraA', [r, m.inFeatures]), t('loraB', [m.outFeatures, r])];
    return magnitude ? [...ab, t('magnitude', [m.outFeatures])] : ab;
  });
}

export function lowRankScale(spec: AdapterSpec): number {
  return spec.rslora ? spec.alpha / Math.sqrt(spec.rank) : spec.alpha / spec.rank;
}

/**
 * Past the narrowest adapted layer's min(in, out) a rank is no longer low: the update could be
 * full rank there with fewer parameters.
 */
export function lowRankBound(modules: readonly LinearModuleInfo[]): { max: number; why: string } | null {
  if (modules.length === 0) return null;
  const narrowest = modules.reduce((a, m) => (Math.min(m.inFeatures, m.outFeatures) < Math.min(a.inFeatures, a.outFeatures) ? m : a));
  const n = Math.min(narrowest.inFeatures, narrowest.outFeatures);
  return {
    max: n,
    why: `the narrowest adapted layer (${narrowest.name}: ${narrowest.inFeatures} → ${narrowest.outFeatures}) has rank ${n}`,
  };
}

export const LOW_RANK_DEFAULTS = { rank: 8, alpha: 16, lr: 1e-2 } as const;

export const loraFormat: MethodFormat = {
  label: 'LoRA',
  peftType: 'LORA',
  claims: (raw) => raw.use_dora !== true,
  parse: (raw, file, common) => parseLowRank(raw, file, common, 'lora'),
  configFields: (spec, targets, baseModelName) => lowRankConfigFields(spec, targets, baseModelName, false),
  tensors: (spec, modules) => lowRankTensors(spec, modules, false),
  scale: lowRankScale,
  trainableCount: (spec, modules) => modules.reduce((n, m) => n + spec.rank * (m.inFeatures + m.outFeatures), 0),
  defaults: LOW_RANK_DEFAULTS,
  fields: { alpha: true, rslora: true },
  maxRank: lowRankBound,
};
