import { LOW_RANK_DEFAULTS, lowRankBound, lowRankConfigFields, lowRankScale, lowRankTensors, parseLowRank } from '../lora/format';
import type { MethodFormat } from '../types';

/** DoRA is LoRA's config with use_dora, and one magnitude vector more per module. */
export const doraFormat: MethodFormat = {
  label: 'DoRA',
  peftType: 'LORA',
  claims: (raw) => raw.use_dora === true,
  parse: (raw, file, common) => parseLowRank(raw, file, common, 'dora'),
  configFields: (spec, targets, baseModelName) => lowRankConfigFields(spec, targets, baseModelName, true),
  tensors: (spec, modules) => lowRankTensors(spec, modules, true),
  scale: lowRankScale,
  trainableCount: (spec, modules) => modules.reduce((n, m) => n + spec.rank * (m.inFeatures + m.outFeatures) + m.outFeatures, 0),
  defaults: LOW_RANK_DEFAULTS,
  fields: { alpha: true, rslora: true },
  maxRank: lowRankBound,
};
