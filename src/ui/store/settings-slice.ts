import type { StateCreator } from 'zustand';
import { linearModuleNames } from '../../train/adapter-spec';
import type { ModelConfig } from '../../formats/hf-config';
import { RELORA_DEFAULTS, TRAINING_DEFAULTS } from '../../train/defaults';
import type { ReloraUiSettings, StudioMethod, TrainSettings } from '../../worker/protocol';
import {
  formatOf,
  METHOD_LABEL,
  parseSettingsFile,
  recommendedFor,
  settingsFromJson,
  validateSettings,
} from '../../worker/settings-validation';
import type { StudioState } from './store';

/** The studio's starting settings; the optimizer's come from src/train/defaults.ts, as the CLI's do. */
export const DEFAULT_SETTINGS: TrainSettings = {
  method: 'lora',
  rank: 8,
  alpha: 16,
  rslora: false,
  dropout: 0,
  targets: [],
  lr: 1e-2,
  schedule: 'cosine',
  warmupSteps: 2,
  durationUnit: 'steps',
  steps: 30,
  epochs: 1,
  batchSize: 4,
  gradAccum: TRAINING_DEFAULTS.gradAccum,
  seqLen: 32,
  seed: 42,
  valFraction: 0.1,
  evalEvery: 5,
  weightDecay: TRAINING_DEFAULTS.weightDecay,
  maxGradNorm: TRAINING_DEFAULTS.maxGradNorm,
  gradientCheckpointing: TRAINING_DEFAULTS.gradientCheckpointing,
  maxSamples: 0,
  relora: { warmStartSteps: 5, resetEvery: 10, restartWarmupSteps: 2, ...RELORA_DEFAULTS },
};

/** Checkpoint every this many steps by default: at most 25 steps are redone after a reload, and saving a small adapter is quick. */
export const DEFAULT_CHECKPOINT_EVERY = 25;

/** Why a checkpoint interval is unusable (null: it is fine; 0 turns checkpoints off). */
export function checkpointEveryProblem(n: number): string | null {
  return Number.isInteger(n) && n >= 0 && n <= 1_000_000 ? null : 'must be a whole number, 0 (off) or more';
}

/** Attention projections by default, as PEFT does for Llama (q_proj, v_proj) and GPT-2 (c_attn). */
export function defaultTargets(config: ModelConfig): string[] {
  const names = linearModuleNames(config);
  const preferred = names.filter((n) => n === 'q_proj' || n === 'v_proj' || n === 'c_attn');
  return preferred.length > 0 ? preferred : names.slice(0, 1);
}

/** Which of the method-dependent settings the user set (switching method then keeps them). */
export interface ExplicitSettings {
  readonly lr: boolean;
  readonly rank: boolean;
}

/** Where the last session's settings are kept. */
export const SETTINGS_STORAGE_KEY = 'webgpu-finetune-studio:settings';
export const SETTINGS_FILE_NAME = 'studio-settings.json';

interface Stored {
  settings: TrainSettings;
  explicit: ExplicitSettings;
  /** Kept beside TrainSettings (read by restoreCheckpointEvery): it changes no step of a run, only how often the run is saved. */
  checkpointEvery?: number;
}

/** The last session's settings; anything missing, of the wrong type or unreadable falls back to the defaults. */
export function restoreSettings(storage: Pick<Storage, 'getItem'> | null = browserStorage()): Stored {
  const fallback: Stored = { settings: DEFAULT_SETTINGS, explicit: { lr: false, rank: false } };
  try {
    const text = storage?.getItem(SETTINGS_STORAGE_KEY);
    if (!text) return fallback;
    const raw = JSON.parse(text) as { version?: unknown; settings?: unknown; explicit?: unknown };
    if (typeof raw !== 'object' || raw === null || raw.version !== 1) return fallback;
    const { settings } = settingsFromJson(raw.settings, DEFAULT_SETTINGS);
    const e = (typeof raw.explicit === 'object' && raw.explicit !== null ? raw.explicit : {}) as Record<string, unknown>;
    return { settings, explicit: { lr: e.lr === true, rank: e.rank === true } };
  } catch {
    return fallback;
  }
}

/** The last session's checkpoint interval (the default when none was kept or it is unusable). */
export function restoreCheckpointEvery(storage: Pick<Storage, 'getItem'> | null = browserStorage()): number {
  try {
    const v = (JSON.parse(storage?.getItem(SETTINGS_STORAGE_KEY) ?? 'null') as { checkpointEvery?: unknown } | null)?.checkpointEvery;
    return typeof v === 'number' && checkpointEveryProblem(v) === null ? v : DEFAULT_CHECKPOINT_EVERY;
  } catch {
    return DEFAULT_CHECKPOINT_EVERY;
  }
}

export function storeSettings(s: Stored, storage: Pick<Storage, 'setItem'> | null = browserStorage()): void {
  try {
    storage?.setItem(
      SETTINGS_STORAGE_KEY,
      JSON.stringify({ version: 1, settings: s.settings, explicit: s.explicit, checkpointEvery: s.checkpointEvery }),
    );
  } catch {
    // Storage full or disabled: the settings just do not outlive the page.
  }
}

function browserStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

/** What switching to `method` set and kept, for the hint under the method choice. */
export function methodHint(
  method: StudioMethod,
  rec: { lr: number; rank: number },
  explicit: ExplicitSettings,
  s: Pick<TrainSettings, 'lr' | 'rank'>,
): string {
  const name = METHOD_LABEL[method];
  const set: string[] = [];
  const kept: string[] = [];
  if (explicit.lr) {
    if (s.lr !== rec.lr) kept.push(`your learning rate ${s.lr} (${name} recommends ${rec.lr})`);
  } else set.push(`learning rate ${rec.lr}`);
  if (explicit.rank) {
    if (s.rank !== rec.rank) kept.push(`your rank ${s.rank} (${name} recommends ${rec.rank})`);
  } else set.push(`rank ${rec.rank}`);
  const why = formatOf(method).defaults.why ?? '';
  const parts = [set.length > 0 ? `${name}: set ${set.join(' and ')}, its recommended ${set.length > 1 ? 'values' : 'value'}` : `${name}:`];
  if (kept.length > 0) parts.push(`kept ${kept.join(' and ')}, since you set ${kept.length > 1 ? 'them' : 'it'}`);
  return `${why}${parts.join('; ')}.`;
}

export interface SettingsSlice {
  settings: TrainSettings;
  explicitSettings: ExplicitSettings;
  /** What the last method switch set or kept (null before any switch). */
  methodHint: string | null;
  /** Why the last settings file was refused (it names the bad fields). */
  settingsFileError: string | null;
  /** Save a checkpoint every this many steps, on pause, on stop and at the end (0: none). */
  checkpointEvery: number;
  setCheckpointEvery(n: number): void;
  updateSettings(patch: Partial<TrainSettings>): void;
  /** Takes a resumed run's settings as they are (the worker has tokenized the dataset for them already). */
  adoptRunSettings(settings: TrainSettings): void;
  updateRelora(patch: Partial<ReloraUiSettings>): void;
  /** Switches method, setting its recommended lr and rank unless the user set them. */
  chooseMethod(method: StudioMethod): void;
  toggleTarget(name: string): void;
  resetTargetsFor(config: ModelConfig): void;
  /** Reads a settings JSON file; applies it only when every field is valid. */
  loadSettingsFile(file: File): Promise<void>;
  resetSettings(): void;
}

const TOKENIZING: readonly (keyof TrainSettings)[] = ['seqLen', 'valFraction', 'seed', 'maxSamples'];

function tokenizable(s: TrainSettings, config: ModelConfig | null): boolean {
  return !validateSettings(s, { config }).some((i) => (TOKENIZING as readonly string[]).includes(i.field));
}

export const createSettingsSlice: StateCreator<StudioState, [], [], SettingsSlice> = (set, get) => {
  const restored = restoreSettings();
  return {
    settings: restored.settings,
    explicitSettings: restored.explicit,
    methodHint: null,
    settingsFileError: null,
    checkpointEvery: restoreCheckpointEvery(),
    setCheckpointEvery: (checkpointEvery) => set({ checkpointEvery }),
    adoptRunSettings: (settings) => set({ settings, explicitSettings: { lr: true, rank: true }, methodHint: null }),
    updateSettings: (patch) => {
      const before = get().settings;
      const explicit = get().explicitSettings;
      set({
        settings: { ...before, ...patch },
        explicitSettings: { lr: explicit.lr || patch.lr !== undefined, rank: explicit.rank || patch.rank !== undefined },
      });
      // The dataset is re-split only with values that can tokenize (a half-typed length waits, marked invalid).
      if (TOKENIZING.some((k) => patch[k] !== undefined) && tokenizable(get().settings, get().model?.config ?? null))
        get().retokenizeDataset();
    },
    updateRelora: (patch) => set((s) => ({ settings: { ...s.settings, relora: { ...s.settings.relora, ...patch } } })),
    chooseMethod: (method) => {
      const { settings, explicitSettings: explicit, model } = get();
      const rec = recommendedFor(method, model?.config ?? null, settings.targets);
      const next = { ...settings, method, ...(explicit.lr ? {} : { lr: rec.lr }), ...(explicit.rank ? {} : { rank: rec.rank }) };
      set({ settings: next, methodHint: methodHint(method, rec, explicit, next) });
    },
    toggleTarget: (name) =>
      set((s) => {
        const has = s.settings.targets.includes(name);
        return { settings: { ...s.settings, targets: has ? s.settings.targets.filter((t) => t !== name) : [...s.settings.targets, name] } };
      }),
    // Targets restored from the last session (or chosen for a model of the same family) are kept when they all exist here.
    resetTargetsFor: (config) =>
      set((s) => {
        const names = new Set(linearModuleNames(config));
        const keep = s.settings.targets.length > 0 && s.settings.targets.every((t) => names.has(t));
        return { settings: { ...s.settings, targets: keep ? s.settings.targets : defaultTargets(config) } };
      }),
    loadSettingsFile: async (file) => {
      const { settings, model, dataset } = get();
      const base = { ...DEFAULT_SETTINGS, targets: settings.targets };
      const result = parseSettingsFile(await file.text(), base, {
        config: model?.config ?? null,
        trainSequences: dataset?.trainSequences ?? null,
      });
      if ('error' in result) return set({ settingsFileError: `${file.name}: ${result.error}` });
      set({ settings: result.settings, explicitSettings: { lr: true, rank: true }, settingsFileError: null, methodHint: null });
      get().retokenizeDataset();
    },
    resetSettings: () => {
      const config = get().model?.config;
      set({
        settings: { ...DEFAULT_SETTINGS, targets: config ? defaultTargets(config) : [] },
        explicitSettings: { lr: false, rank: false },
        checkpointEvery: DEFAULT_CHECKPOINT_EVERY,
        methodHint: null,
        settingsFileError: null,
      });
      get().retokenizeDataset();
    },
  };
};
