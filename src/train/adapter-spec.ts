import type { ModelConfig } from '../formats/hf-config';
import { linearModules } from '../formats/hf-config';
import type { AdapterMethod, AdapterSpec } from '../formats/peft';

export interface AdapterChoice {
  readonly method: AdapterMethod;
  readonly rank: number;
  readonly alpha: number;
  readonly rslora: boolean;
  readonly dropout: number;
  readonly targets: readonly string[];
}

/** PEFT's defaults for what the studio does not expose. VeRA has no alpha (scale 1). */
export function adapterSpecFor(choice: AdapterChoice, config: ModelConfig): AdapterSpec {
  const vera = choice.method === 'vera';
  return {
    method: choice.method,
    rank: choice.rank,
    alpha: vera ? choice.rank : choice.alpha,
    rslora: vera ? false : choice.rslora,
    dropout: choice.dropout,
    targets: [...choice.targets],
    fanInFanOut: config.arch === 'gpt2',
    dInitial: 0.1,
    projectionPrngKey: 0,
    saveProjection: true,
  };
}

/** The distinct short names of the model's linear layers, in model order (q_proj, k_proj, ...). */
export function linearModuleNames(config: ModelConfig): string[] {
  return [...new Set(linearModules(config).map((m) => m.name))];
}
