/**
 * What every adapter method's file format shares (src/adapters/<method>/format.ts): the spec a
 * method reads from adapter_config.json, the PEFT key of a module's tensor, typed readers of
 * config fields, and Python floats for writing. formats/peft.ts, which asks the method registry,
 * builds on this file; the methods import only this one, so no import leads back to the registry.
 */
import type { AdapterMethod } from '../adapters';
import { describeValue, FormatError } from './errors';
import type { LinearModuleInfo } from './hf-config';

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
  /**
   * Settings only one method has (VeRA's d_initial, projection_prng_key, save_projection), from
   * and to its adapter_config.json fields. Its folder reads them with defaults (vera/format.ts
   * veraOptions), so a spec built in code may leave them out: `{}`.
   */
  options: MethodOptions;
}

/** A method's own adapter_config.json settings, by the name its format.ts gives them. */
export type MethodOptions = Readonly<Record<string, number | boolean | string>>;

const PEFT_PREFIX = 'base_model.model.';

export function peftKey(modulePath: string, suffix: string): string {
  return `${PEFT_PREFIX}${modulePath}.${suffix}`;
}

/** Typed readers of one config's fields, for the method formats: each error names the file and field. */
export function configReaders(raw: Readonly<Record<string, unknown>>, file: string) {
  return {
    bool: (key: string, fallback: boolean) => bool(raw, key, file, fallback),
    finite: (key: string, fallback: number) => finite(raw, key, file, fallback),
    int: (key: string, fallback: number) => int(raw, key, file, fallback),
    posInt: (key: string, fallback: number) => posInt(raw, key, file, fallback),
    dropout: (key: string) => dropout(raw, key, file),
    fail: (problem: string): never => {
      throw new FormatError(file, problem);
    },
  };
}

/**
 * The largest positive integer (r, ...) an adapter config may give: sizes are allocated from
 * them (VeRA's projections are r × the widest layer), and real ranks stay ≤ a few thousand.
 */
const MAX_ADAPTER_INT = 65_536;

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
  if (v > MAX_ADAPTER_INT) throw new FormatError(file, `"${key}" is ${v}, above the supported maximum ${MAX_ADAPTER_INT}`);
  return v;
}

function dropout(raw: Record<string, unknown>, key: string, file: string): number {
  const v = finite(raw, key, file, 0);
  if (v < 0 || v >= 1) throw new FormatError(file, `"${key}" must be in [0, 1), got ${v}`);
  return v;
}

/** Marks a number that Python writes as a float (`0.0`, not `0`), so PEFT reads back the same type. */
export class PyFloat {
  constructor(readonly value: number) {}
}

export interface AdapterTensorSpec {
  key: string;
  /** What the method calls this tensor ("loraA", "lambdaB", "veraA"), for its own code and messages. */
  kind: string;
  shape: number[];
  /** False only for tensors the method keeps frozen (VeRA's shared projections). */
  trainable: boolean;
  /** The adapted layer; null for tensors shared by all layers (VeRA's projections). */
  module: LinearModuleInfo | null;
  /** Why the file may lack it and what to do, when that is a known case rather than a broken file. */
  whyMissing?: string;
}
