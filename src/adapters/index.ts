import type { AdapterMethod } from '../formats/peft';
import { dora } from './dora';
import { lora } from './lora';
import type { AdapterMethodDef } from './types';
import { vera } from './vera';

/** Every adapter method, one folder each; adding a method means adding a folder and a line here. */
export const ADAPTER_METHODS: Readonly<Record<AdapterMethod, AdapterMethodDef>> = { lora, dora, vera };

export type { Adapter, AdapterLayer, AdapterMethodDef, StepContext, TrainableParam } from './types';
