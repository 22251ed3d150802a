import type { AdapterMethod, AdapterSpec } from '../formats/peft';
import type { LinearModuleInfo, ModelConfig } from '../formats/hf-config';
import type { GpuRuntime } from '../gpu/runtime';
import type { FrozenLinear } from '../model/linear';
import type { Adapter } from '../model/adapter';

export type { Adapter, AdapterLayer, StepContext, TrainableParam } from '../model/adapter';

/** Loaded tensors of a PEFT file, by key. */
export type AdapterTensors = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;

/** What an adapter method needs of the base model. */
export interface BaseModelView {
  readonly config: ModelConfig;
  linear(modulePath: string): FrozenLinear;
}

/** One adapter method (one folder under src/adapters), behind this interface. */
export interface AdapterMethodDef {
  readonly method: AdapterMethod;
  /** A new adapter initialised as PEFT initialises one. */
  create(rt: GpuRuntime, model: BaseModelView, spec: AdapterSpec, modules: LinearModuleInfo[], seed: number): Promise<Adapter>;
  /** An adapter from a PEFT file (tensors already checked against the spec and model). */
  load(rt: GpuRuntime, model: BaseModelView, spec: AdapterSpec, modules: LinearModuleInfo[], tensors: AdapterTensors): Adapter;
}
