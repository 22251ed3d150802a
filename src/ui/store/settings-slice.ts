import type { StateCreator } from 'zustand';
import { linearModuleNames } from '../../engine/adapter-spec';
import type { ModelConfig } from '../../formats/hf-config';
import type { ReloraUiSettings, TrainSettings } from '../../worker/protocol';
import type { StudioState } from './store';

export const DEFAULT_SETTINGS: TrainSettings = {
  method: 'lora', rank: 8, alpha: 16, rslora: false, dropout: 0, targets: [],
  lr: 1e-2, schedule: 'cosine', warmupSteps: 2, durationUnit: 'steps', steps: 30, epochs: 1,
  batchSize: 4, gradAccum: 1, seqLen: 32, seed: 42, valFraction: 0.1, evalEvery: 5,
  relora: { warmStartSteps: 5, resetEvery: 10, restartWarmupSteps: 2, pruning: 'random', pruningRatio: 0.999, minLrRatio: 0.1 },
};

/** Attention projections by default, as PEFT does for Llama (q_proj, v_proj) and GPT-2 (c_attn). */
export function defaultTargets(config: ModelConfig): string[] {
  const names = linearModuleNames(config);
  const preferred = names.filter((n) => n === 'q_proj' || n === 'v_proj' || n === 'c_attn');
  return preferred.length > 0 ? preferred : names.slice(0, 1);
}

export interface SettingsSlice {
  settings: TrainSettings;
  updateSettings(patch: Partial<TrainSettings>): void;
  updateRelora(patch: Partial<ReloraUiSettings>): void;
  toggleTarget(name: string): void;
  resetTargetsFor(config: ModelConfig): void;
}

export const createSettingsSlice: StateCreator<StudioState, [], [], SettingsSlice> = (set, get) => ({
  settings: DEFAULT_SETTINGS,
  updateSettings: (patch) => {
    const before = get().settings;
    set({ settings: { ...before, ...patch } });
    const tokenizing = patch.seqLen !== undefined || patch.valFraction !== undefined || patch.seed !== undefined;
    if (tokenizing) get().retokenizeDataset();
  },
  updateRelora: (patch) => set((s) => ({ settings: { ...s.settings, relora: { ...s.settings.relora, ...patch } } })),
  toggleTarget: (name) =>
    set((s) => {
      const has = s.settings.targets.includes(name);
      return { settings: { ...s.settings, targets: has ? s.settings.targets.filter((t) => t !== name) : [...s.settings.targets, name] } };
    }),
  resetTargetsFor: (config) => set((s) => ({ settings: { ...s.settings, targets: defaultTargets(config) } })),
});
