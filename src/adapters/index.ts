import { dora } from './dora';
import { lora } from './lora';
import type { AdapterMethodDef } from './types';
import { vera } from './vera';

/**
 * Every adapter method, one folder each (src/adapters/<method>/: its layers, its file format, its
 * studio defaults); adding a method means adding a folder and a line here, as PEFT's
 * register_peft_method. Everything method-specific asks this: formats/peft.ts (config and
 * tensors), the trainable count, the studio's method list, fields and defaults, the CLI's --method.
 */
// Getters: formats/peft.ts reads this registry and the methods import formats/peft.ts, so the
// entries are looked up when used, not while the modules of that cycle are still initialising.
export const ADAPTER_METHODS = {
  get lora(): AdapterMethodDef {
    return lora;
  },
  get dora(): AdapterMethodDef {
    return dora;
  },
  get vera(): AdapterMethodDef {
    return vera;
  },
} satisfies Record<string, AdapterMethodDef>;

export type AdapterMethod = keyof typeof ADAPTER_METHODS;

/** The registered methods, in the registry's order. */
export const METHOD_NAMES = Object.keys(ADAPTER_METHODS) as AdapterMethod[];

export type { Adapter, AdapterLayer, AdapterMethodDef, LayerVectors, StepContext, TrainableParam } from './types';
