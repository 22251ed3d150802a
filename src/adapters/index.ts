import { dora } from './dora';
import { lora } from './lora';
import type { AdapterMethodDef } from './types';
import { vera } from './vera';

/**
 * Every adapter method, one folder each (src/adapters/<method>/: its layers, its file format, its
 * studio defaults); adding a method means adding a folder and a line here, as PEFT's
 * register_peft_method. Everything method-specific asks this: formats/peft.ts (config and
 * tensors), the trainable count, the studio's method list, fields and defaults, the CLI's --method.
 * The methods import formats/peft-fields.ts, never formats/peft.ts, so no import cycle runs
 * through this registry.
 */
export const ADAPTER_METHODS = { lora, dora, vera } satisfies Record<string, AdapterMethodDef>;

export type AdapterMethod = keyof typeof ADAPTER_METHODS;

/** The registered methods, in the registry's order. */
export const METHOD_NAMES = Object.keys(ADAPTER_METHODS) as AdapterMethod[];

export type { Adapter, AdapterLayer, AdapterMethodDef, LayerVectors, StepContext, TrainableParam } from './types';
