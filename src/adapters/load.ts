import type { ModelConfig } from '../formats/hf-config';
import { checkAdapterTensors, targetedModules, type AdapterSpec } from '../formats/peft';
import type { GpuRuntime } from '../gpu/runtime';
import { ADAPTER_METHODS } from './index';
import type { Adapter, AdapterTensors, BaseModelView } from './types';

/** An adapter from PEFT tensors, after checking every key and shape against the model. */
export function loadAdapter(rt: GpuRuntime, model: BaseModelView, spec: AdapterSpec, tensors: AdapterTensors, file: string): Adapter {
  checkAdapterTensors(spec, model.config, tensors as unknown as Map<string, { shape: number[] }>, file);
  const modules = targetedModules(spec, model.config, file);
  return ADAPTER_METHODS[spec.method].load(rt, model, spec, modules, tensors);
}

/** A new adapter, initialised as PEFT initialises one. */
export function createAdapter(rt: GpuRuntime, model: BaseModelView, spec: AdapterSpec, seed: number): Promise<Adapter> {
  const modules = targetedModules(spec, model.config, 'adapter settings');
  return ADAPTER_METHODS[spec.method].create(rt, model, spec, modules, seed);
}

/** Trainable parameter count of an adapter spec on a model, without building it. */
export function trainableCount(spec: AdapterSpec, config: ModelConfig): number {
  return ADAPTER_METHODS[spec.method].format.trainableCount(spec, targetedModules(spec, config, 'adapter settings'));
}
