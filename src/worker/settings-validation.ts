/**
 * One validation of every training setting, used by the page (each field marked with its reason,
 * Train disabled, no summary computed from a bad value) and by the worker before it allocates
 * anything. Also the method-aware recommended lr and rank, and the parser of a settings object
 * read from a file or localStorage (pure, no GPU, no DOM).
 */
import { ADAPTER_METHODS, METHOD_NAMES } from '../adapters';
import type { MethodFormat } from '../adapters/types';
import { linearModules, type ModelConfig } from '../formats/hf-config';
import { adapterSpecFor, linearModuleNames } from '../train/adapter-spec';
import { type BufferLimits, describeNeed, type FitInput, fitProblem } from '../train/memory';
import type { ReloraUiSettings, StudioMethod, TrainSettings } from './protocol';

export type SettingsField = Exclude<keyof TrainSettings, 'relora'> | `relora.${keyof ReloraUiSettings}`;

export interface SettingsIssue {
  readonly field: SettingsField;
  readonly message: string;
}

export interface ValidationContext {
  /** The loaded model (bounds on rank and sequence length, target names); null before one is loaded. */
  readonly config: ModelConfig | null;
  /** Training sequences of the tokenized dataset, to count the steps of an epoch-long run; null when unknown. */
  readonly trainSequences?: number | null;
  /**
   * The device's per-buffer limits (the runtime's GpuInfo): with them the batch size × sequence
   * length and the rank are checked against what one buffer may hold, the CLI's check
   * (train/memory.ts fitProblem); null or absent: not checked.
   */
  readonly limits?: BufferLimits | null;
}

/** The labels the Method panel shows, used in messages that name fields. */
export const FIELD_LABEL: Record<SettingsField, string> = {
  method: 'method',
  rank: 'rank',
  alpha: 'alpha',
  rslora: 'rsLoRA',
  dropout: 'dropout',
  targets: 'target modules',
  lr: 'learning rate',
  schedule: 'schedule',
  warmupSteps: 'warmup steps',
  durationUnit: 'train for',
  steps: 'steps',
  epochs: 'epochs',
  batchSize: 'batch size',
  gradAccum: 'gradient accumulation',
  seqLen: 'sequence length',
  seed: 'seed',
  valFraction: 'validation size',
  evalEvery: 'eval every',
  weightDecay: 'weight decay',
  maxGradNorm: 'max grad norm',
  maxSamples: 'max samples',
  gradientCheckpointing: 'gradient checkpointing',
  'relora.warmStartSteps': 'warm-start steps',
  'relora.resetEvery': 'reset every',
  'relora.restartWarmupSteps': 'restart warmup steps',
  'relora.pruning': 'optimizer pruning',
  'relora.pruningRatio': 'pruning ratio',
  'relora.minLrRatio': 'min lr ratio',
};

/** The registry's adapter methods, then ReLoRA (a training regime: LoRA merged into the weights every k steps). */
export const METHODS: readonly StudioMethod[] = [...METHOD_NAMES, 'relora'];
export const METHOD_LABEL = Object.fromEntries(METHODS.map((m) => [m, m === 'relora' ? 'ReLoRA' : formatOf(m).label])) as Record<
  StudioMethod,
  string
>;

/** The file format and studio defaults of a method; ReLoRA trains LoRA layers, so it has LoRA's. */
export function formatOf(method: StudioMethod): MethodFormat {
  return method === 'relora' ? ADAPTER_METHODS.lora.format : ADAPTER_METHODS[method].format;
}
const SCHEDULES = ['constant', 'linear', 'cosine'] as const;
const MAX_STEPS = 1_000_000;
const MAX_BATCH = 1024;
const MAX_SEED = 0xffffffff;
/** The recommended learning rate and rank of a method (the registry's defaults, the rank within what the model allows). */
export function recommendedFor(method: StudioMethod, config: ModelConfig | null, targets: readonly string[]): { lr: number; rank: number } {
  const { lr, rank } = formatOf(method).defaults;
  const bound = config ? (rankBound(method, targets, config)?.max ?? rank) : rank;
  return { lr, rank: Math.min(rank, bound) };
}

/** The largest sensible rank of the method on the adapted layers (ReLoRA: every linear layer); null when none is chosen. */
export function rankBound(method: StudioMethod, targets: readonly string[], config: ModelConfig): { max: number; why: string } | null {
  const modules = linearModules(config).filter((m) => method === 'relora' || targets.includes(m.name));
  return formatOf(method).maxRank(modules);
}

/** The adapter the settings make (ReLoRA: LoRA on every linear layer), for the fit check. */
function adapterOf(s: TrainSettings, config: ModelConfig): FitInput['adapter'] {
  if (s.method === 'relora') {
    const choice = { method: 'lora', rank: s.rank, alpha: s.alpha, rslora: false, dropout: 0, targets: linearModuleNames(config) } as const;
    return { spec: adapterSpecFor(choice, config), modules: linearModules(config) };
  }
  const modules = linearModules(config).filter((m) => s.targets.includes(m.name));
  return { spec: adapterSpecFor({ ...s, method: s.method }, config), modules };
}

/** The batch size × sequence length and the rank against the device's per-buffer limits (the CLI's check). */
function fitIssue(s: TrainSettings, config: ModelConfig, limits: BufferLimits): SettingsIssue | null {
  const p = fitProblem({ config, batch: s.batchSize, seq: s.seqLen, adapter: adapterOf(s, config) }, limits);
  if (!p) return null;
  if (!('need' in p)) return { field: 'rank', message: `must be at most ${p.max}: ${p.why}` };
  const needs = describeNeed(p.need, limits).replace('this device', 'this GPU');
  if (p.setting === 'rank') return { field: 'rank', message: `is too large for this GPU: rank ${s.rank} needs ${needs}` };
  if (p.setting === 'model') return { field: 'method', message: `this model does not fit this GPU: it needs ${needs}` };
  const max = p.maxBatch ?? 0;
  if (max < 1) return { field: 'seqLen', message: `is too long for this GPU: one sequence of ${s.seqLen} tokens needs ${needs}` };
  return {
    field: 'batchSize',
    message:
      `must be at most ${max} at sequence length ${s.seqLen} on this GPU: ${s.batchSize} × ${s.seqLen} tokens need ${needs}` +
      (s.method === 'relora' ? '' : '; gradient accumulation gives a larger effective batch'),
  };
}

/** The optimizer steps of the run the settings describe (null: an epoch-long run on an unknown dataset). */
export function plannedSteps(s: TrainSettings, trainSequences: number | null | undefined): number | null {
  if (s.method === 'relora' || s.durationUnit === 'steps') return s.steps;
  if (trainSequences === null || trainSequences === undefined) return null;
  return Math.max(1, Math.ceil(trainSequences / (s.batchSize * s.gradAccum)) * s.epochs);
}

/** Every problem with the settings, in the Method panel's order (empty: they can run). */
export function validateSettings(s: TrainSettings, ctx: ValidationContext): SettingsIssue[] {
  const out: SettingsIssue[] = [];
  const bad = (field: SettingsField, message: string) => out.push({ field, message });
  const isNum = (field: SettingsField, v: unknown): v is number => {
    if (typeof v === 'number' && Number.isFinite(v)) return true;
    bad(field, 'enter a number');
    return false;
  };
  const wholeAtLeast = (field: SettingsField, v: unknown, min: number, max: number, hint = '') => {
    if (!isNum(field, v)) return;
    if (!Number.isInteger(v) || v < min || v > max) {
      bad(field, `must be a whole number, at least ${min}${max < Infinity ? ` and at most ${max.toLocaleString('en-US')}` : ''}${hint}`);
    }
  };
  const relora = s.method === 'relora';
  const config = ctx.config;

  if (!METHODS.includes(s.method)) bad('method', `must be one of ${METHODS.join(', ')}`);
  if (isNum('rank', s.rank)) {
    if (!Number.isInteger(s.rank) || s.rank < 1) bad('rank', 'must be a positive whole number (1, 2, 3, …)');
    else if (config) {
      const bound = rankBound(s.method, s.targets, config);
      if (bound && s.rank > bound.max) bad('rank', `must be at most ${bound.max}: ${bound.why}`);
    }
  }
  if (METHODS.includes(s.method) && formatOf(s.method).fields.alpha && isNum('alpha', s.alpha) && !(s.alpha > 0 && s.alpha <= 1e6))
    bad('alpha', 'must be greater than 0 (and at most 1,000,000)');
  if (!relora && isNum('dropout', s.dropout) && !(s.dropout >= 0 && s.dropout < 1)) bad('dropout', 'must be in [0, 1)');
  if (!relora) {
    if (s.targets.length === 0) bad('targets', 'pick at least one target module');
    else if (config) {
      const names = new Set(linearModules(config).map((m) => m.name));
      const unknown = s.targets.filter((t) => !names.has(t));
      if (unknown.length > 0) bad('targets', `not linear layers of this model: ${unknown.join(', ')}`);
    }
  }
  if (isNum('lr', s.lr)) {
    if (!(s.lr > 0)) bad('lr', 'must be greater than 0');
    else if (s.lr > 1) bad('lr', 'must be at most 1 (AdamW diverges beyond that)');
  }
  if (!relora && !SCHEDULES.includes(s.schedule)) bad('schedule', `must be one of ${SCHEDULES.join(', ')}`);
  if (!relora && s.durationUnit !== 'steps' && s.durationUnit !== 'epochs') bad('durationUnit', 'must be steps or epochs');
  if (relora || s.durationUnit === 'steps') wholeAtLeast('steps', s.steps, 1, MAX_STEPS);
  else wholeAtLeast('epochs', s.epochs, 1, 10_000);
  wholeAtLeast('batchSize', s.batchSize, 1, MAX_BATCH);
  if (!relora) wholeAtLeast('gradAccum', s.gradAccum, 1, MAX_BATCH);
  if (isNum('seqLen', s.seqLen)) {
    const positions = config?.maxPositions ?? Infinity;
    if (!Number.isInteger(s.seqLen) || s.seqLen < 2 || s.seqLen > positions) {
      bad(
        'seqLen',
        positions < Infinity
          ? `must be a whole number between 2 and the model's ${positions} positions`
          : 'must be a whole number, at least 2',
      );
    }
  }
  if (isNum('warmupSteps', s.warmupSteps)) {
    const total = out.some((i) => i.field === 'steps' || i.field === 'epochs' || i.field === 'batchSize' || i.field === 'gradAccum')
      ? null
      : plannedSteps(s, ctx.trainSequences);
    if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0) bad('warmupSteps', 'must be a whole number, 0 or more');
    else if (total !== null && s.warmupSteps > total) bad('warmupSteps', `must be at most the ${total} training steps`);
  }
  wholeAtLeast('seed', s.seed, 0, MAX_SEED);
  if (isNum('valFraction', s.valFraction) && !(s.valFraction >= 0 && s.valFraction < 1))
    bad('valFraction', 'must be at least 0 and less than 1 (a fraction of the examples)');
  wholeAtLeast('evalEvery', s.evalEvery, 1, MAX_STEPS);
  if (isNum('weightDecay', s.weightDecay) && !(s.weightDecay >= 0 && s.weightDecay <= 1))
    bad('weightDecay', 'must be 0 or more and at most 1');
  if (isNum('maxGradNorm', s.maxGradNorm) && !(s.maxGradNorm >= 0)) bad('maxGradNorm', 'must be 0 (no clipping) or more');
  if (isNum('maxSamples', s.maxSamples) && !(Number.isInteger(s.maxSamples) && s.maxSamples >= 0))
    bad('maxSamples', 'must be 0 (all) or more, a whole number');

  if (relora) {
    const r = s.relora;
    wholeAtLeast('relora.resetEvery', r.resetEvery, 1, MAX_STEPS);
    if (isNum('relora.warmStartSteps', r.warmStartSteps)) {
      if (!Number.isInteger(r.warmStartSteps) || r.warmStartSteps < 0) bad('relora.warmStartSteps', 'must be a whole number, 0 or more');
      else if (Number.isInteger(s.steps) && r.warmStartSteps >= s.steps)
        bad('relora.warmStartSteps', 'must be fewer than the total steps, or no LoRA step is left');
    }
    if (isNum('relora.restartWarmupSteps', r.restartWarmupSteps)) {
      if (!Number.isInteger(r.restartWarmupSteps) || r.restartWarmupSteps < 0)
        bad('relora.restartWarmupSteps', 'must be a whole number, 0 or more');
      else if (r.restartWarmupSteps >= r.resetEvery) bad('relora.restartWarmupSteps', 'must be shorter than the reset interval');
    }
    if (r.pruning !== 'random' && r.pruning !== 'magnitude') bad('relora.pruning', 'must be random or magnitude');
    if (isNum('relora.pruningRatio', r.pruningRatio) && !(r.pruningRatio >= 0 && r.pruningRatio <= 1))
      bad('relora.pruningRatio', 'must be in [0, 1]');
    if (isNum('relora.minLrRatio', r.minLrRatio) && !(r.minLrRatio >= 0 && r.minLrRatio <= 1))
      bad('relora.minLrRatio', 'must be in [0, 1]');
  }
  const sizing: readonly SettingsField[] = ['method', 'rank', 'alpha', 'targets', 'batchSize', 'seqLen'];
  if (config && ctx.limits && !out.some((i) => sizing.includes(i.field))) {
    const issue = fitIssue(s, config, ctx.limits);
    if (issue) out.push(issue);
  }
  return out;
}

/** "rank: must be …; learning rate: must be …" (by label), or by JSON key ("lr: must be …") for a settings file. */
export function describeIssues(issues: readonly SettingsIssue[], names: 'labels' | 'keys' = 'labels'): string {
  return issues.map((i) => `${names === 'keys' ? i.field : FIELD_LABEL[i.field]}: ${i.message}`).join('; ');
}

/** The worker's guard: throws one clear message before anything is allocated. */
export function assertValidSettings(s: TrainSettings, ctx: ValidationContext): void {
  const issues = validateSettings(s, ctx);
  if (issues.length > 0) throw new Error(`invalid settings: ${describeIssues(issues)}`);
}

// ---- reading settings from a file or localStorage ---------------------------------------------

type Kind = 'number' | 'boolean' | readonly string[];
const FIELD_KINDS: Record<Exclude<keyof TrainSettings, 'relora' | 'targets'>, Kind> = {
  method: METHODS,
  rank: 'number',
  alpha: 'number',
  rslora: 'boolean',
  dropout: 'number',
  lr: 'number',
  schedule: SCHEDULES,
  warmupSteps: 'number',
  durationUnit: ['steps', 'epochs'],
  steps: 'number',
  epochs: 'number',
  batchSize: 'number',
  gradAccum: 'number',
  seqLen: 'number',
  seed: 'number',
  valFraction: 'number',
  evalEvery: 'number',
  weightDecay: 'number',
  maxGradNorm: 'number',
  maxSamples: 'number',
  gradientCheckpointing: 'boolean',
};
const RELORA_KINDS: Record<keyof ReloraUiSettings, Kind> = {
  warmStartSteps: 'number',
  resetEvery: 'number',
  restartWarmupSteps: 'number',
  pruning: ['random', 'magnitude'],
  pruningRatio: 'number',
  minLrRatio: 'number',
};

function kindProblem(v: unknown, kind: Kind): string | null {
  if (kind === 'number') return typeof v === 'number' && Number.isFinite(v) ? null : `must be a number, not ${JSON.stringify(v)}`;
  if (kind === 'boolean') return typeof v === 'boolean' ? null : `must be true or false, not ${JSON.stringify(v)}`;
  return typeof v === 'string' && kind.includes(v) ? null : `must be one of ${kind.join(', ')}, not ${JSON.stringify(v)}`;
}

/**
 * Settings from untrusted JSON: every known field of the right type replaces `base`'s, every
 * other one is named in `bad` (and keeps `base`'s value); unknown keys are ignored.
 */
export function settingsFromJson(raw: unknown, base: TrainSettings): { settings: TrainSettings; bad: SettingsIssue[] } {
  const bad: SettingsIssue[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { settings: base, bad: [{ field: 'method', message: 'the settings must be a JSON object' }] };
  }
  const o = raw as Record<string, unknown>;
  const next: Record<string, unknown> = { ...base };
  for (const [key, kind] of Object.entries(FIELD_KINDS) as [SettingsField, Kind][]) {
    if (!(key in o)) continue;
    const problem = kindProblem(o[key], kind);
    if (problem) bad.push({ field: key, message: problem });
    else next[key] = o[key];
  }
  if ('targets' in o) {
    const t = o.targets;
    if (Array.isArray(t) && t.every((x) => typeof x === 'string')) next.targets = [...new Set(t as string[])];
    else bad.push({ field: 'targets', message: 'must be a list of module names' });
  }
  if ('relora' in o) {
    const r = o.relora;
    const relora: Record<string, unknown> = { ...base.relora };
    if (typeof r !== 'object' || r === null || Array.isArray(r))
      bad.push({ field: 'relora.resetEvery', message: 'relora must be an object' });
    else {
      for (const [key, kind] of Object.entries(RELORA_KINDS)) {
        if (!(key in r)) continue;
        const v = (r as Record<string, unknown>)[key];
        const problem = kindProblem(v, kind);
        if (problem) bad.push({ field: `relora.${key as keyof ReloraUiSettings}`, message: problem });
        else relora[key] = v;
      }
    }
    next.relora = relora;
  }
  return { settings: next as unknown as TrainSettings, bad };
}

/**
 * A settings file: parsed, type-checked and validated against the model; either the settings or
 * one message that names every bad field.
 */
export function parseSettingsFile(
  text: string,
  base: TrainSettings,
  ctx: ValidationContext,
): { settings: TrainSettings } | { error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { error: `not valid JSON (${(e as Error).message})` };
  }
  const { settings, bad } = settingsFromJson(raw, base);
  const typed = new Set(bad.map((i) => i.field));
  const issues = [...bad, ...validateSettings(settings, ctx).filter((i) => !typed.has(i.field))];
  if (issues.length > 0) return { error: describeIssues(issues, 'keys') };
  return { settings };
}
