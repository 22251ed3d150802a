import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/formats/hf-config';
import { DEFAULT_SETTINGS, methodHint, restoreSettings, SETTINGS_STORAGE_KEY, storeSettings } from '../../src/ui/store/settings-slice';
import type { TrainSettings } from '../../src/worker/protocol';
import { assertValidSettings, parseSettingsFile, recommendedFor, validateSettings } from '../../src/worker/settings-validation';

// dev-tiny: hidden 64, k/v out 32, intermediate 128, 256 positions.
const config = parseModelConfig(readFileSync('public/models/dev-tiny/config.json', 'utf8'), 'dev-tiny/config.json');
const base: TrainSettings = { ...DEFAULT_SETTINGS, targets: ['q_proj', 'v_proj'] };
const fields = (s: Partial<TrainSettings>, trainSequences: number | null = null) =>
  validateSettings({ ...base, ...s }, { config, trainSequences }).map((i) => i.field);

describe('settings validation', () => {
  it('accepts the defaults for every method', () => {
    for (const method of ['lora', 'dora', 'vera', 'relora'] as const)
      expect(fields({ method, ...recommendedFor(method, config, base.targets) })).toEqual([]);
  });
  it('refuses the reported values: rank 0, −3 and 2.5, lr −0.01, steps 0', () => {
    expect(fields({ rank: 0 })).toEqual(['rank']);
    expect(fields({ rank: -3 })).toEqual(['rank']);
    expect(fields({ rank: 2.5 })).toEqual(['rank']);
    expect(fields({ lr: -0.01 })).toEqual(['lr']);
    expect(fields({ lr: Number.NaN })).toEqual(['lr']);
    expect(fields({ lr: Infinity })).toEqual(['lr']);
    expect(fields({ steps: 0 })).toEqual(['steps']);
  });
  it('bounds the rank by the layers: LoRA by the narrowest adapted layer, VeRA by 4× the widest', () => {
    expect(fields({ rank: 32 })).toEqual([]);
    expect(fields({ rank: 33 })).toEqual(['rank']);
    expect(fields({ rank: 64, targets: ['q_proj'] })).toEqual([]);
    expect(fields({ method: 'vera', rank: 256 })).toEqual([]);
    expect(fields({ method: 'vera', rank: 257 })).toEqual(['rank']);
    expect(fields({ method: 'relora', rank: 33 })).toEqual(['rank']);
  });
  it('checks the other fields', () => {
    expect(fields({ alpha: 0 })).toEqual(['alpha']);
    expect(fields({ method: 'vera', alpha: 0 })).toEqual([]);
    expect(fields({ dropout: 1 })).toEqual(['dropout']);
    expect(fields({ seqLen: 257 })).toEqual(['seqLen']);
    expect(fields({ seqLen: 256 })).toEqual([]);
    expect(fields({ batchSize: 0, gradAccum: 1.5 })).toEqual(['batchSize', 'gradAccum']);
    expect(fields({ warmupSteps: 31 })).toEqual(['warmupSteps']);
    expect(fields({ durationUnit: 'epochs', epochs: 2, batchSize: 4, warmupSteps: 21 }, 40)).toEqual(['warmupSteps']);
    expect(fields({ durationUnit: 'epochs', epochs: 2, batchSize: 4, warmupSteps: 20 }, 40)).toEqual([]);
    expect(fields({ valFraction: 1, maxSamples: -1, weightDecay: -0.1, maxGradNorm: -1, evalEvery: 0, seed: -1 })).toEqual([
      'seed',
      'valFraction',
      'evalEvery',
      'weightDecay',
      'maxGradNorm',
      'maxSamples',
    ]);
    expect(fields({ targets: [] })).toEqual(['targets']);
    expect(fields({ targets: ['c_attn'] })).toEqual(['targets']);
    expect(fields({ method: 'relora', targets: [] })).toEqual([]);
    expect(fields({ method: 'relora', relora: { ...base.relora, warmStartSteps: 30 } })).toEqual(['relora.warmStartSteps']);
  });
  it('the worker refuses with one message that names the fields (no raw typed-array error)', () => {
    expect(() => assertValidSettings({ ...base, rank: -3, lr: -0.01 }, { config })).toThrow(
      /^invalid settings: rank: .*; learning rate: must be greater than 0$/,
    );
  });
});

describe('method-aware defaults', () => {
  it('VeRA recommends ~10× the learning rate and a larger rank, within the model', () => {
    expect(recommendedFor('lora', config, base.targets)).toEqual({ lr: 0.01, rank: 8 });
    expect(recommendedFor('vera', config, base.targets)).toEqual({ lr: 0.1, rank: 256 });
    expect(recommendedFor('vera', config, []).rank).toBe(256);
  });
  it('the hint says what was set and what was kept', () => {
    const rec = recommendedFor('vera', config, base.targets);
    expect(methodHint('vera', rec, { lr: false, rank: false }, rec)).toContain('set learning rate 0.1 and rank 256');
    expect(methodHint('vera', rec, { lr: true, rank: false }, { lr: 0.02, rank: 256 })).toContain(
      'kept your learning rate 0.02 (VeRA recommends 0.1)',
    );
  });
});

describe('settings files and the stored session', () => {
  const ctx = { config };
  it('a saved file loads back as it was', () => {
    const saved = { ...base, rank: 4, lr: 0.03 };
    expect(parseSettingsFile(JSON.stringify(saved), DEFAULT_SETTINGS, ctx)).toEqual({ settings: saved });
  });
  it('names every bad field, by its JSON key', () => {
    const r = parseSettingsFile(
      JSON.stringify({ ...base, rank: -1, lr: 'fast', targets: ['nope_proj'], relora: { resetEvery: 'x' } }),
      DEFAULT_SETTINGS,
      ctx,
    );
    expect('error' in r && r.error).toMatch(
      /lr: must be a number.*relora\.resetEvery: must be a number.*rank: must be a positive.*targets: not linear layers of this model: nope_proj/,
    );
    expect(parseSettingsFile('{ nope', DEFAULT_SETTINGS, ctx)).toMatchObject({ error: expect.stringMatching(/^not valid JSON/) });
    expect(parseSettingsFile('[1]', DEFAULT_SETTINGS, ctx)).toMatchObject({ error: expect.stringMatching(/JSON object/) });
  });
  it('restores the last session, field by field; corrupt storage falls back to the defaults', () => {
    const memory = new Map<string, string>();
    const storage = { getItem: (k: string) => memory.get(k) ?? null, setItem: (k: string, v: string) => void memory.set(k, v) };
    storeSettings({ settings: { ...base, rank: 4 }, explicit: { lr: false, rank: true } }, storage);
    expect(restoreSettings(storage)).toEqual({ settings: { ...base, rank: 4 }, explicit: { lr: false, rank: true } });
    memory.set(SETTINGS_STORAGE_KEY, '{ corrupt');
    expect(restoreSettings(storage).settings).toEqual(DEFAULT_SETTINGS);
    memory.set(SETTINGS_STORAGE_KEY, JSON.stringify({ version: 1, settings: { rank: 'x', lr: 0.04, relora: 5 } }));
    expect(restoreSettings(storage).settings).toEqual({ ...DEFAULT_SETTINGS, lr: 0.04 });
    memory.set(SETTINGS_STORAGE_KEY, JSON.stringify({ version: 2, settings: { lr: 0.04 } }));
    expect(restoreSettings(storage).settings).toEqual(DEFAULT_SETTINGS);
    expect(
      restoreSettings({
        getItem: () => {
          throw new Error('denied');
        },
      }).settings,
    ).toEqual(DEFAULT_SETTINGS);
  });
});
