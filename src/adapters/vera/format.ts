import { type AdapterSpec, type AdapterTensorSpec, configReaders, PyFloat, peftKey } from '../../formats/peft-fields';
import type { MethodFormat } from '../types';

/** PEFT's key suffixes of VeRA's per-layer vectors, and the keys of its shared frozen projections. */
export const VERA_SUFFIX = { lambdaB: 'vera_lambda_b', lambdaD: 'vera_lambda_d' } as const;
export const VERA_SHARED_KEYS = { A: 'base_model.vera_A', B: 'base_model.vera_B' } as const;

/** VeRA's own settings, kept in AdapterSpec.options. */
export interface VeraOptions {
  /** Initial value of λ_d. */
  readonly dInitial: number;
  /** The seed of the shared projections' generator. */
  readonly projectionPrngKey: number;
  /** Whether vera_A / vera_B are stored in the adapter file. */
  readonly saveProjection: boolean;
}

/** PEFT's VeraConfig defaults. */
const VERA_DEFAULTS: VeraOptions = { dInitial: 0.1, projectionPrngKey: 0, saveProjection: true };

/** The spec's VeRA settings, PEFT's defaults for those it leaves out. */
export function veraOptions(spec: AdapterSpec): VeraOptions {
  const o = spec.options;
  return {
    dInitial: typeof o.dInitial === 'number' ? o.dInitial : VERA_DEFAULTS.dInitial,
    projectionPrngKey: typeof o.projectionPrngKey === 'number' ? o.projectionPrngKey : VERA_DEFAULTS.projectionPrngKey,
    saveProjection: typeof o.saveProjection === 'boolean' ? o.saveProjection : VERA_DEFAULTS.saveProjection,
  };
}

/** PEFT's default rank for VeRA (VeraConfig r = 256). */
const VERA_DEFAULT_RANK = 256;

export const veraFormat: MethodFormat = {
  label: 'VeRA',
  peftType: 'VERA',
  claims: () => true,
  parse(raw, file, common) {
    const read = configReaders(raw, file);
    const rank = read.posInt('r', VERA_DEFAULT_RANK);
    return {
      method: 'vera',
      rank,
      alpha: rank, // VeRA has no alpha: its scale is 1
      rslora: false,
      dropout: read.dropout('vera_dropout'),
      ...common,
      options: {
        dInitial: read.finite('d_initial', VERA_DEFAULTS.dInitial),
        projectionPrngKey: read.int('projection_prng_key', VERA_DEFAULTS.projectionPrngKey),
        saveProjection: read.bool('save_projection', VERA_DEFAULTS.saveProjection),
      } satisfies VeraOptions,
    };
  },
  configFields: (spec, targets, baseModelName) => ({
    peft_type: 'VERA',
    task_type: 'CAUSAL_LM',
    r: spec.rank,
    target_modules: targets,
    projection_prng_key: veraOptions(spec).projectionPrngKey,
    save_projection: veraOptions(spec).saveProjection,
    vera_dropout: new PyFloat(spec.dropout),
    d_initial: new PyFloat(veraOptions(spec).dInitial),
    bias: 'none',
    fan_in_fan_out: spec.fanInFanOut,
    base_model_name_or_path: baseModelName,
    inference_mode: false,
  }),
  /** λ_b [out] and λ_d [r] per module, and one frozen shared pair sized for the largest targeted layer. */
  tensors(spec, modules) {
    const r = spec.rank;
    const out: AdapterTensorSpec[] = modules.flatMap((m): AdapterTensorSpec[] => [
      { key: peftKey(m.modulePath, VERA_SUFFIX.lambdaB), kind: 'lambdaB', shape: [m.outFeatures], trainable: true, module: m },
      { key: peftKey(m.modulePath, VERA_SUFFIX.lambdaD), kind: 'lambdaD', shape: [r], trainable: true, module: m },
    ]);
    const maxIn = Math.max(...modules.map((m) => m.inFeatures));
    const maxOut = Math.max(...modules.map((m) => m.outFeatures));
    // PEFT regenerates unsaved projections with PyTorch's generator, which is not reproduced here.
    const whyMissing = veraOptions(spec).saveProjection
      ? undefined
      : "the VeRA adapter was saved with save_projection=false, so it would have to be regenerated with PyTorch's RNG, " +
        'which is not supported; re-save it with save_projection=True';
    const shared = { trainable: false, module: null, ...(whyMissing ? { whyMissing } : {}) };
    out.push({ key: VERA_SHARED_KEYS.A, kind: 'veraA', shape: [r, maxIn], ...shared });
    out.push({ key: VERA_SHARED_KEYS.B, kind: 'veraB', shape: [maxOut, r], ...shared });
    return out;
  },
  scale: () => 1,
  trainableCount: (spec, modules) => modules.reduce((n, m) => n + m.outFeatures + spec.rank, 0),
  defaults: {
    rank: VERA_DEFAULT_RANK,
    alpha: VERA_DEFAULT_RANK,
    lr: 0.1,
    why: 'VeRA trains only two scaling vectors per layer over frozen random matrices, so it needs about 10× the learning rate of LoRA and a larger rank (PEFT defaults to r = 256 for VeRA). ',
  },
  fields: { alpha: false, rslora: false },
  /** The shared random matrices may be wider than a layer (PEFT's r = 256), up to 4× the widest adapted layer. */
  maxRank(modules) {
    if (modules.length === 0) return null;
    const widest = modules.reduce((a, m) => (Math.max(m.inFeatures, m.outFeatures) > Math.max(a.inFeatures, a.outFeatures) ? m : a));
    const w = Math.max(widest.inFeatures, widest.outFeatures);
    return { max: 4 * w, why: `4× the widest adapted layer (${widest.name}: ${widest.inFeatures} → ${widest.outFeatures})` };
  },
};
