import type { ModelConfig } from '../formats/hf-config';
import { linearModules } from '../formats/hf-config';
import { ADAPTER_METHODS } from '../adapters';
import type { AdapterMethod, AdapterSpec } from '../formats/peft';

export interface AdapterChoice {
  readonly method: AdapterMethod;
  readonly rank: number;
  readonly alpha: number;
  readonly rslora: boolean;
  readonly dropout: number;
  readonly targets: readonly string[];
}

/**
 * PEFT's defaults for what the studio does not expose (each method's own options: its format's
 * defaults). A setting the method does not have is dropped: no alpha (VeRA, scale 1) keeps alpha = rank.
 */
export function adapterSpecFor(choice: AdapterChoice, config: ModelConfig): AdapterSpec {
  const has = ADAPTER_METHODS[choice.method].format.fields;
  return {
    method: choice.method,
    rank: choice.rank,
    alpha: has.alpha ? choice.alpha : choice.rank,
    rslora: has.rslora ? choice.rslora : false,
    dropout: choice.dropout,
    targets: [...choice.targets],
    fanInFanOut: config.arch === 'gpt2',
    options: {},
  };
}

/** The distinct short names of the model's linear layers, in model order (q_proj, k_proj, ...). */
export function linearModuleNames(config: ModelConfig): string[] {
  return [...new Set(linearModules(config).map((m) => m.name))];
}
