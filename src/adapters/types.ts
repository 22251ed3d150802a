import type { AdapterMethod } from './index';
import type { AdapterSpec, AdapterTensorSpec } from '../formats/peft-fields';
import type { LinearModuleInfo, ModelConfig } from '../formats/hf-config';
import type { GpuRuntime } from '../gpu/runtime';
import type { FrozenLinear } from '../model/linear';
import type { Adapter } from '../model/adapter';

export type { Adapter, AdapterLayer, LayerVectors, StepContext, TrainableParam } from '../model/adapter';

/** Loaded tensors of a PEFT file, by key. */
export type AdapterTensors = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;

/** What an adapter method needs of the base model. */
export interface BaseModelView {
  readonly config: ModelConfig;
  linear(modulePath: string): FrozenLinear;
}

/** The fields every PEFT adapter_config.json has, already read (formats/peft.ts). */
export interface CommonConfigFields {
  readonly targets: string[];
  readonly fanInFanOut: boolean;
}

/**
 * Everything about a method's files and settings that needs no GPU: how its adapter_config.json
 * reads and writes, which tensors its adapter_model.safetensors holds, its scale, its parameter
 * count, and what the studio shows for it. formats/peft.ts and the studio ask this.
 */
export interface MethodFormat {
  /** What the studio and messages call it ("LoRA"). */
  readonly label: string;
  /** Its PEFT `peft_type` ("LORA" for LoRA and DoRA, "VERA"). */
  readonly peftType: string;
  /** Whether an adapter_config.json of its peft_type is this method (DoRA: LORA with use_dora). */
  claims(raw: Readonly<Record<string, unknown>>): boolean;
  /** The spec from adapter_config.json (the common fields are read already). */
  parse(raw: Readonly<Record<string, unknown>>, file: string, common: CommonConfigFields): AdapterSpec;
  /** adapter_config.json's fields, in PEFT's order (targets sorted; PyFloat for Python floats). */
  configFields(spec: AdapterSpec, targets: string[], baseModelName: string | null): Record<string, unknown>;
  /** Every tensor of its adapter_model.safetensors on these modules. */
  tensors(spec: AdapterSpec, modules: readonly LinearModuleInfo[]): AdapterTensorSpec[];
  /** The factor s of its update (LoRA's α/r or α/√r; VeRA 1). */
  scale(spec: AdapterSpec): number;
  /** Trainable parameters on these modules. */
  trainableCount(spec: AdapterSpec, modules: readonly LinearModuleInfo[]): number;
  /** The studio's starting rank, alpha and learning rate for it, and why when they differ from LoRA's. */
  readonly defaults: { readonly rank: number; readonly alpha: number; readonly lr: number; readonly why?: string };
  /** Which settings mean something for it: alpha and rsLoRA (VeRA has neither). */
  readonly fields: { readonly alpha: boolean; readonly rslora: boolean };
  /** The largest sensible rank on these modules, and why (null: no bound). */
  maxRank(modules: readonly LinearModuleInfo[]): { max: number; why: string } | null;
}

/** One adapter method (one folder under src/adapters), behind this interface. */
export interface AdapterMethodDef {
  readonly method: AdapterMethod;
  readonly format: MethodFormat;
  /** A new adapter initialised as PEFT initialises one. */
  create(rt: GpuRuntime, model: BaseModelView, spec: AdapterSpec, modules: LinearModuleInfo[], seed: number): Promise<Adapter>;
  /** An adapter from a PEFT file (tensors already checked against the spec and model). */
  load(rt: GpuRuntime, model: BaseModelView, spec: AdapterSpec, modules: LinearModuleInfo[], tensors: AdapterTensors): Adapter;
}
