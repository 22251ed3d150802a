/**
 * PEFT adapter folders (`adapter_config.json` + `adapter_model.safetensors`), as written by
 * `peft` for LoRA (optionally rsLoRA / DoRA) and VeRA, so adapters trained here load in Python
 * and vice versa. Key names and config fields follow the golden fixtures in shared/fixtures.
 *
 * Options that change which parameters exist or how they are applied (extra trained modules,
 * per-layer ranks, trainable biases, layer subsets, ...) are rejected with a message instead of
 * being ignored, since ignoring them would silently train or run a different model.
 */
import { FormatError, describeValue, isObject, parseJsonObject } from './errors';
import { linearModules, type LinearModuleInfo, type ModelConfig, sameShape } from './hf-config';

export type AdapterMethod = 'lora' | 'dora' | 'vera';

export interface AdapterSpec {
  method: AdapterMethod;
  rank: number;
  /** lora_alpha. VeRA has no scaling: parseAdapterConfig sets alpha = rank for it. */
  alpha: number;
  /** Scale alpha / sqrt(r) instead of alpha / r (LoRA/DoRA only). */
  rslora: boolean;
  dropout: number;
  targets: string[];
  fanInFanOut: boolean;
  /** VeRA: initial value of lambda_d. */
  dInitial: number;
  /** VeRA: seed PEFT used to generate the shared projections. */
  projectionPrngKey: number;
  /** VeRA: whether vera_A / vera_B are stored in the adapter file. */
  saveProjection: boolean;
}

export const PEFT_SUFFIX = {
  loraA: 'lora_A.weight',
  loraB: 'lora_B.weight',
  magnitude: 'lora_magnitude_vector', // no ".weight": PEFT strips it for DoRA (see fixtures)
  lambdaB: 'vera_lambda_b',
  lambdaD: 'vera_lambda_d',
} as const;

export const VERA_SHARED_KEYS = { A: 'base_model.vera_A', B: 'base_model.vera_B' } as const;

const PEFT_PREFIX = 'base_model.model.';

export function peftKey(modulePath: string, suffix: string): string {
  return `${PEFT_PREFIX}${modulePath}.${suffix}`;
}

/** PEFT's rule for a list of target_modules: exact module path, or a `.`-separated suffix of it. */
export function matchesTarget(modulePath: string, targets: string[]): boolean {
  return targets.some((t) => modulePath === t || modulePath.endsWith(`.${t}`));
}

/** The factor s in `y = W x + s B A x`. */
export function adapterScale(spec: AdapterSpec): number {
  if (spec.method === 'vera') return 1;
  return spec.rslora ? spec.alpha / Math.sqrt(spec.rank) : spec.alpha / spec.rank;
}

// ---------------------------------------------------------------------------------------------
// adapter_config.json → AdapterSpec

// PEFT defaults, used when a hand-written config leaves a field out.
const VERA_DEFAULTS = { r: 256, d_initial: 0.1, projection_prng_key: 0, save_projection: true };
const LORA_DEFAULTS = { r: 8, lora_alpha: 8 };

export function parseAdapterConfig(json: string, file: string): AdapterSpec {
  const raw = parseJsonObject(json, file, 'adapter config');
  const type = raw.peft_type;
  if (type !== 'LORA' && type !== 'VERA') {
    if (type === undefined) throw new FormatError(file, 'missing "peft_type" (expected "LORA" or "VERA")');
    throw new FormatError(file, `peft_type ${describeValue(type)} is not supported (supported: "LORA" incl. use_dora/use_rslora, "VERA")`);
  }
  rejectUnsupported(raw, file);
  const targets = readTargets(raw.target_modules, file);
  const fanInFanOut = bool(raw, 'fan_in_fan_out', file, false);

  if (type === 'VERA') {
    const rank = posInt(raw, 'r', file, VERA_DEFAULTS.r);
    return {
      method: 'vera',
      rank,
      alpha: rank,
      rslora: false,
      dropout: dropout(raw, 'vera_dropout', file),
      targets,
      fanInFanOut,
      dInitial: finite(raw, 'd_initial', file, VERA_DEFAULTS.d_initial),
      projectionPrngKey: int(raw, 'projection_prng_key', file, VERA_DEFAULTS.projection_prng_key),
      saveProjection: bool(raw, 'save_projection', file, VERA_DEFAULTS.save_projection),
    };
  }
  const alpha = finite(raw, 'lora_alpha', file, LORA_DEFAULTS.lora_alpha);
  if (alpha <= 0) throw new FormatError(file, `"lora_alpha" must be positive, got ${alpha}`);
  return {
    method: bool(raw, 'use_dora', file, false) ? 'dora' : 'lora',
    rank: posInt(raw, 'r', file, LORA_DEFAULTS.r),
    alpha,
    rslora: bool(raw, 'use_rslora', file, false),
    dropout: dropout(raw, 'lora_dropout', file),
    targets,
    fanInFanOut,
    dInitial: VERA_DEFAULTS.d_initial,
    projectionPrngKey: VERA_DEFAULTS.projection_prng_key,
    saveProjection: VERA_DEFAULTS.save_projection,
  };
}

function rejectUnsupported(raw: Record<string, unknown>, file: string): void {
  const task = raw.task_type;
  if (task != null && task !== 'CAUSAL_LM') {
    throw new FormatError(file, `task_type ${describeValue(task)} is not supported (only "CAUSAL_LM")`);
  }
  const bias = raw.bias ?? 'none';
  if (bias !== 'none') throw new FormatError(file, `bias ${describeValue(bias)} is not supported (only "none": base biases stay frozen)`);

  // Each of these, when set, adds parameters or changes where the adapter applies.
  const mustBeEmpty: Array<[string, string]> = [
    ['modules_to_save', 'fully trained extra modules'],
    ['layer_replication', 'layer replication'],
    ['rank_pattern', 'per-module ranks'],
    ['alpha_pattern', 'per-module alphas'],
    ['layers_to_transform', 'restricting the adapter to some layers'],
    ['exclude_modules', 'excluded modules'],
    ['target_parameters', 'adapting nn.Parameter targets'],
    ['trainable_token_indices', 'trainable token embeddings'],
    ['megatron_config', 'Megatron layers'],
    ['alora_invocation_tokens', 'activated LoRA'],
  ];
  for (const [key, what] of mustBeEmpty) {
    if (!isEmpty(raw[key])) throw new FormatError(file, `"${key}" is set (${what}), which is not supported; it must be null or empty`);
  }
  // These initializations rewrite the base weights (W ← W − BA); the adapter only works on top of
  // that residual model, not the original checkpoint. PEFT can convert them to plain LoRA.
  const init = raw.init_lora_weights;
  if (typeof init === 'string' && /^(pissa|olora|corda)/.test(init)) {
    throw new FormatError(
      file,
      `init_lora_weights ${describeValue(init)} adapters need the modified base model they were trained on; ` +
        'convert to plain LoRA with PEFT (save_pretrained(path_initial_model_for_weight_conversion=...))',
    );
  }
  for (const key of ['lora_bias', 'use_qalora']) {
    if (raw[key] === true) throw new FormatError(file, `"${key}": true is not supported`);
  }
}

function isEmpty(v: unknown): boolean {
  if (v == null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isObject(v)) return Object.keys(v).length === 0;
  return false;
}

function readTargets(v: unknown, file: string): string[] {
  if (v == null) throw new FormatError(file, 'missing "target_modules" (list the module names to adapt, e.g. ["q_proj", "v_proj"])');
  if (typeof v === 'string') {
    // A string is a regex (or "all-linear") in PEFT; only the list form is implemented.
    throw new FormatError(file, `target_modules ${describeValue(v)} is a regex/keyword; only a list of module names is supported`);
  }
  if (!Array.isArray(v) || v.length === 0 || !v.every((t) => typeof t === 'string' && t !== '')) {
    throw new FormatError(file, `target_modules must be a non-empty list of module names, got ${JSON.stringify(v)}`);
  }
  return [...new Set(v as string[])];
}

function bool(raw: Record<string, unknown>, key: string, file: string, fallback: boolean): boolean {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'boolean') throw new FormatError(file, `"${key}" must be true or false, got ${describeValue(v)}`);
  return v;
}

function finite(raw: Record<string, unknown>, key: string, file: string, fallback: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError(file, `"${key}" must be a number, got ${describeValue(v)}`);
  return v;
}

function int(raw: Record<string, unknown>, key: string, file: string, fallback: number): number {
  const v = finite(raw, key, file, fallback);
  if (!Number.isSafeInteger(v)) throw new FormatError(file, `"${key}" must be an integer, got ${v}`);
  return v;
}

function posInt(raw: Record<string, unknown>, key: string, file: string, fallback: number): number {
  const v = int(raw, key, file, fallback);
  if (v <= 0) throw new FormatError(file, `"${key}" must be a positive integer, got ${v}`);
  return v;
}

function dropout(raw: Record<string, unknown>, key: string, file: string): number {
  const v = finite(raw, key, file, 0);
  if (v < 0 || v >= 1) throw new FormatError(file, `"${key}" must be in [0, 1), got ${v}`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// AdapterSpec → adapter_config.json

/** Marks a number that Python writes as a float (`0.0`, not `0`), so PEFT reads back the same type. */
class PyFloat {
  constructor(readonly value: number) {}
}

/**
 * The adapter_config.json PEFT would write for this spec: the same fields, in the same order,
 * as the fixtures' configs. Targets are sorted (PEFT keeps them as a set).
 */
export function adapterConfigJson(spec: AdapterSpec, baseModelName: string | null): string {
  const targets = [...new Set(spec.targets)].sort();
  const fields: Record<string, unknown> =
    spec.method === 'vera'
      ? {
          peft_type: 'VERA',
          task_type: 'CAUSAL_LM',
          r: spec.rank,
          target_modules: targets,
          projection_prng_key: spec.projectionPrngKey,
          save_projection: spec.saveProjection,
          vera_dropout: new PyFloat(spec.dropout),
          d_initial: new PyFloat(spec.dInitial),
          bias: 'none',
          fan_in_fan_out: spec.fanInFanOut,
          base_model_name_or_path: baseModelName,
          inference_mode: false,
        }
      : {
          peft_type: 'LORA',
          task_type: 'CAUSAL_LM',
          r: spec.rank,
          lora_alpha: spec.alpha,
          lora_dropout: new PyFloat(spec.dropout),
          target_modules: targets,
          bias: 'none',
          fan_in_fan_out: spec.fanInFanOut,
          use_rslora: spec.rslora,
          use_dora: spec.method === 'dora',
          init_lora_weights: true,
          base_model_name_or_path: baseModelName,
          modules_to_save: null,
          inference_mode: false,
        };
  return toPrettyJson(fields, '');
}

/** JSON.stringify(v, null, 2), except that PyFloat integers keep a ".0". */
function toPrettyJson(v: unknown, indent: string): string {
  if (v instanceof PyFloat) return Number.isInteger(v.value) ? v.value.toFixed(1) : JSON.stringify(v.value);
  const inner = indent + '  ';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + toPrettyJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (isObject(v)) {
    const entries = Object.entries(v);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${toPrettyJson(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(v);
}

// ---------------------------------------------------------------------------------------------
// Adapter tensors for a given model

export type AdapterTensorKind = keyof typeof PEFT_SUFFIX | 'veraA' | 'veraB';

export interface AdapterTensorSpec {
  key: string;
  kind: AdapterTensorKind;
  shape: number[];
  /** False only for VeRA's frozen shared projections. */
  trainable: boolean;
  /** The adapted layer; null for VeRA's shared projections. */
  module: LinearModuleInfo | null;
}

/** The linear layers an adapter with these targets attaches to; every target must match something. */
export function targetedModules(spec: AdapterSpec, config: ModelConfig, file: string): LinearModuleInfo[] {
  const all = linearModules(config);
  for (const t of spec.targets) {
    if (!all.some((m) => matchesTarget(m.modulePath, [t]))) {
      const names = [...new Set(all.map((m) => m.name))].join(', ');
      throw new FormatError(file, `target_modules entry ${JSON.stringify(t)} matches no adaptable layer of this ${config.family} model (${names})`);
    }
  }
  return all.filter((m) => matchesTarget(m.modulePath, spec.targets));
}

/** Every tensor an adapter file holds for this spec and model, with PEFT key and shape. */
export function expectedAdapterTensors(spec: AdapterSpec, config: ModelConfig, file: string): AdapterTensorSpec[] {
  const modules = targetedModules(spec, config, file);
  const r = spec.rank;
  const out: AdapterTensorSpec[] = [];
  const add = (module: LinearModuleInfo, kind: keyof typeof PEFT_SUFFIX, shape: number[]) =>
    out.push({ key: peftKey(module.modulePath, PEFT_SUFFIX[kind]), kind, shape, trainable: true, module });

  for (const m of modules) {
    if (spec.method === 'vera') {
      add(m, 'lambdaB', [m.outFeatures]);
      add(m, 'lambdaD', [r]);
    } else {
      // Stored as for nn.Linear even on GPT-2 Conv1D layers: A is [r, in], B is [out, r].
      add(m, 'loraA', [r, m.inFeatures]);
      add(m, 'loraB', [m.outFeatures, r]);
      if (spec.method === 'dora') add(m, 'magnitude', [m.outFeatures]);
    }
  }
  if (spec.method === 'vera') {
    // One shared pair sized for the largest targeted layer; each layer uses a slice.
    const maxIn = Math.max(...modules.map((m) => m.inFeatures));
    const maxOut = Math.max(...modules.map((m) => m.outFeatures));
    out.push({ key: VERA_SHARED_KEYS.A, kind: 'veraA', shape: [r, maxIn], trainable: false, module: null });
    out.push({ key: VERA_SHARED_KEYS.B, kind: 'veraB', shape: [maxOut, r], trainable: false, module: null });
  }
  return out;
}

/** Checks an adapter file against the spec and model: nothing missing, nothing extra, right shapes. */
export function checkAdapterTensors(
  spec: AdapterSpec,
  config: ModelConfig,
  tensors: ReadonlyMap<string, { readonly shape: readonly number[] }>,
  file: string,
): AdapterTensorSpec[] {
  const expected = expectedAdapterTensors(spec, config, file);
  for (const e of expected) {
    const t = tensors.get(e.key);
    if (!t) {
      if (e.module === null && !spec.saveProjection) {
        throw new FormatError(
          file,
          `VeRA adapter was saved with save_projection=false, so ${e.key} would have to be regenerated with PyTorch's RNG, ` +
            'which is not supported; re-save it with save_projection=True',
        );
      }
      throw new FormatError(file, `missing adapter tensor ${JSON.stringify(e.key)}`);
    }
    if (!sameShape(t.shape, e.shape)) {
      throw new FormatError(file, `adapter tensor ${JSON.stringify(e.key)} has shape [${t.shape.join(', ')}], expected [${e.shape.join(', ')}]`);
    }
  }
  const known = new Set(expected.map((e) => e.key));
  for (const key of tensors.keys()) {
    if (!known.has(key)) {
      throw new FormatError(file, `unexpected adapter tensor ${JSON.stringify(key)} (not produced by this adapter config on this model)`);
    }
  }
  return expected;
}
