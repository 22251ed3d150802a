/**
 * PEFT adapter folders (`adapter_config.json` + `adapter_model.safetensors`), as written by
 * `peft` for LoRA (optionally rsLoRA / DoRA) and VeRA, so adapters trained here load in Python
 * and vice versa. Key names and config fields follow the golden fixtures in shared/fixtures.
 *
 * Options that change which parameters exist or how they are applied (extra trained modules,
 * per-layer ranks, trainable biases, layer subsets, ...) are rejected with a message instead of
 * being ignored, since ignoring them would silently train or run a different model.
 */
import { ADAPTER_METHODS, type AdapterMethod } from '../adapters';
import type { MethodFormat } from '../adapters/types';
import { FormatError, describeValue, isObject, parseJsonObject, quote, renderValue } from './errors';
import { linearModules, type LinearModuleInfo, type ModelConfig, sameShape } from './hf-config';

export type { AdapterMethod };
export { type AdapterSpec, type AdapterTensorSpec, configReaders, type MethodOptions, PyFloat, peftKey } from './peft-fields';
import { type AdapterSpec, type AdapterTensorSpec, configReaders, PyFloat } from './peft-fields';

/** Each method's file format, from its folder (src/adapters/<method>/format.ts) through the registry. */
function formatOf(method: AdapterMethod): MethodFormat {
  return ADAPTER_METHODS[method].format;
}

/** PEFT's rule for a list of target_modules: exact module path, or a `.`-separated suffix of it. */
export function matchesTarget(modulePath: string, targets: string[]): boolean {
  return targets.some((t) => modulePath === t || modulePath.endsWith(`.${t}`));
}

/** The factor s in `y = W x + s B A x`. */
export function adapterScale(spec: AdapterSpec): number {
  return formatOf(spec.method).scale(spec);
}

// ---------------------------------------------------------------------------------------------
// adapter_config.json → AdapterSpec

export function parseAdapterConfig(json: string, file: string): AdapterSpec {
  const raw = parseJsonObject(json, file, 'adapter config');
  const type = raw.peft_type;
  const formats = Object.values(ADAPTER_METHODS).map((m) => m.format);
  const types = [...new Set(formats.map((f) => f.peftType))];
  if (typeof type !== 'string' || !types.includes(type)) {
    const supported = types.map((t) => `"${t}"`).join(', ');
    if (type === undefined) throw new FormatError(file, `missing "peft_type" (supported: ${supported})`);
    throw new FormatError(
      file,
      `peft_type ${describeValue(type)} is not supported (supported: ${supported}; LORA incl. use_dora/use_rslora)`,
    );
  }
  rejectUnsupported(raw, file);
  const common = { targets: readTargets(raw.target_modules, file), fanInFanOut: configReaders(raw, file).bool('fan_in_fan_out', false) };
  // LoRA and DoRA share peft_type LORA: the method that claims the config reads it.
  const format = formats.find((f) => f.peftType === type && f.claims(raw))!;
  return format.parse(raw, file, common);
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

/** target_modules bounds: real lists name a handful of layers (or up to 7 module paths per layer of a small model). */
const MAX_TARGETS = 1024;
const MAX_TARGET_CHARS = 512;
function readTargets(v: unknown, file: string): string[] {
  if (v == null) throw new FormatError(file, 'missing "target_modules" (list the module names to adapt, e.g. ["q_proj", "v_proj"])');
  if (typeof v === 'string') {
    // A string is a regex (or "all-linear") in PEFT; only the list form is implemented.
    throw new FormatError(file, `target_modules ${describeValue(v)} is a regex/keyword; only a list of module names is supported`);
  }
  if (!Array.isArray(v) || v.length === 0 || !v.every((t) => typeof t === 'string' && t !== '')) {
    throw new FormatError(file, `target_modules must be a non-empty list of module names, got ${renderValue(v)}`);
  }
  // Each target is matched against every linear layer: bound the list and the names.
  if (v.length > MAX_TARGETS) throw new FormatError(file, `target_modules lists ${v.length} names; at most ${MAX_TARGETS} are supported`);
  const long = (v as string[]).find((t) => t.length > MAX_TARGET_CHARS);
  if (long !== undefined) throw new FormatError(file, `target_modules entry ${quote(long)} is longer than ${MAX_TARGET_CHARS} characters`);
  return [...new Set(v as string[])];
}

// ---------------------------------------------------------------------------------------------
// AdapterSpec → adapter_config.json

/**
 * The adapter_config.json PEFT would write for this spec: the same fields, in the same order,
 * as the fixtures' configs. Targets are sorted (PEFT keeps them as a set).
 */
export function adapterConfigJson(spec: AdapterSpec, baseModelName: string | null): string {
  const targets = [...new Set(spec.targets)].sort();
  return toPrettyJson(formatOf(spec.method).configFields(spec, targets, baseModelName), '');
}

/** JSON.stringify(v, null, 2), except that PyFloat integers keep a ".0". */
function toPrettyJson(v: unknown, indent: string): string {
  if (v instanceof PyFloat) return Number.isInteger(v.value) ? v.value.toFixed(1) : JSON.stringify(v.value);
  const inner = `${indent}  `;
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

/** The linear layers an adapter with these targets attaches to; every target must match something. */
export function targetedModules(spec: AdapterSpec, config: ModelConfig, file: string): LinearModuleInfo[] {
  const all = linearModules(config);
  for (const t of spec.targets) {
    if (!all.some((m) => matchesTarget(m.modulePath, [t]))) {
      const names = [...new Set(all.map((m) => m.name))].join(', ');
      throw new FormatError(
        file,
        `target_modules entry ${JSON.stringify(t)} matches no adaptable layer of this ${config.family} model (${names})`,
      );
    }
  }
  return all.filter((m) => matchesTarget(m.modulePath, spec.targets));
}

/** Every tensor an adapter file holds for this spec and model, with PEFT key and shape. */
export function expectedAdapterTensors(spec: AdapterSpec, config: ModelConfig, file: string): AdapterTensorSpec[] {
  return formatOf(spec.method).tensors(spec, targetedModules(spec, config, file));
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
      if (e.whyMissing) throw new FormatError(file, `missing adapter tensor ${JSON.stringify(e.key)}: ${e.whyMissing}`);
      throw new FormatError(file, `missing adapter tensor ${JSON.stringify(e.key)}`);
    }
    if (!sameShape(t.shape, e.shape)) {
      throw new FormatError(
        file,
        `adapter tensor ${JSON.stringify(e.key)} has shape [${t.shape.join(', ')}], expected [${e.shape.join(', ')}]`,
      );
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
