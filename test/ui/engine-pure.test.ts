import { describe, expect, it } from 'vitest';
import { learningRateAt } from '../../src/train/schedule';
import { argmax, sampleToken, seededRandom, topKIndices } from '../../src/generation/sampling';
import { estimateTrainingMemory, memoryBudget, whyItDoesNotFit } from '../../src/train/memory';
import { mergedTensors } from '../../src/formats/merged-folder';
import { parseModelConfig } from '../../src/formats/hf-config';
import { loadTokenizer } from '../../src/tokenizer/load';
import { readFileSync } from 'node:fs';

describe('learning-rate schedules', () => {
  const base = { peakLr: 1, warmupSteps: 4, totalSteps: 14 };
  it('warms up linearly then follows the schedule', () => {
    expect(learningRateAt({ ...base, kind: 'constant' }, 0)).toBeCloseTo(0.2);
    expect(learningRateAt({ ...base, kind: 'constant' }, 3)).toBeCloseTo(0.8);
    expect(learningRateAt({ ...base, kind: 'constant' }, 10)).toBe(1);
    expect(learningRateAt({ ...base, kind: 'linear' }, 9)).toBeCloseTo(0.5);
    expect(learningRateAt({ ...base, kind: 'cosine' }, 9)).toBeCloseTo(0.5);
    expect(learningRateAt({ ...base, kind: 'cosine' }, 14)).toBeCloseTo(0);
  });
});

describe('sampling', () => {
  const logits = new Float32Array([0.1, 3, -1, 2.5]);
  it('greedy picks the argmax, top-1 too', () => {
    expect(argmax(logits)).toBe(1);
    expect(sampleToken(logits, { temperature: 0, topK: 0 }, seededRandom(1))).toBe(1);
    expect(sampleToken(logits, { temperature: 1, topK: 1 }, seededRandom(1))).toBe(1);
    expect(topKIndices(logits, 2)).toEqual([1, 3]);
  });
  it('top-k never picks outside the k best and is reproducible per seed', () => {
    const r = seededRandom(5);
    const picks = Array.from({ length: 200 }, () => sampleToken(logits, { temperature: 2, topK: 2 }, r));
    expect(new Set(picks)).toEqual(new Set([1, 3]));
    const a = Array.from(
      { length: 20 },
      (
        (r) => () =>
          sampleToken(logits, { temperature: 1, topK: 0 }, r)
      )(seededRandom(9)),
    );
    const b = Array.from(
      { length: 20 },
      (
        (r) => () =>
          sampleToken(logits, { temperature: 1, topK: 0 }, r)
      )(seededRandom(9)),
    );
    expect(a).toEqual(b);
  });
});

const DEV = 'public/models/dev-tiny';
const config = parseModelConfig(readFileSync(`${DEV}/config.json`, 'utf8'), 'config.json');

describe('memory estimate', () => {
  it('fits the dev model and refuses a run whose logits exceed the binding limit', () => {
    const m = estimateTrainingMemory(config, 94_592, 3_584, 4, 32);
    const budget = memoryBudget({ maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 }, 8);
    expect(whyItDoesNotFit(m, budget)).toBeNull();
    const huge = estimateTrainingMemory({ ...config, vocabSize: 150_000 }, 1e6, 0, 64, 4096);
    expect(whyItDoesNotFit(huge, budget)).toMatch(/largest tensor/);
    const big = estimateTrainingMemory(config, 3e9, 0, 1, 8);
    expect(whyItDoesNotFit(big, budget)).toMatch(/GPU memory/);
  });

  it('names the setting that would make a run fit: gradient checkpointing keeps one layer of activations', () => {
    const deep = { ...config, numLayers: 48 };
    const plain = estimateTrainingMemory(deep, 94_592, 3_584, 16, 512);
    const checkpointed = estimateTrainingMemory(deep, 94_592, 3_584, 16, 512, undefined, { checkpointing: true });
    expect(checkpointed.total).toBeLessThan(plain.total / 4);
    // A budget between the two: the message gives the change and the new number.
    const budget = {
      ...memoryBudget({ maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 }, 8),
      totalBytes: checkpointed.total + 1,
    };
    const why = whyItDoesNotFit(plain, budget, [{ change: 'turn on gradient checkpointing', estimate: checkpointed }]);
    expect(why).toMatch(/; turn on gradient checkpointing: then it needs about [\d.]+ [KMG]iB$/);
    expect(whyItDoesNotFit(plain, budget, [])).toMatch(/pick a smaller model/);
  });
});

describe('merge', () => {
  it('adds ΔW to the adapted layers only, transposing for Conv1D', () => {
    const key = 'model.layers.0.self_attn.q_proj.weight';
    const w = new Float32Array(64 * 64).fill(1);
    const delta = new Float32Array(64 * 64).map((_, i) => i);
    const out = mergedTensors(
      config,
      new Map([
        [key, { shape: [64, 64], data: w }],
        ['model.norm.weight', { shape: [64], data: new Float32Array(64) }],
      ]),
      new Map([['model.layers.0.self_attn.q_proj', delta]]),
    );
    const merged = out.find((t) => t.name === key)!;
    expect(merged.data[5]).toBe(6);
    expect(w[5]).toBe(1);
    expect(out.find((t) => t.name === 'model.norm.weight')!.data).toHaveLength(64);
  });
});

describe('tokenizer (through @huggingface/tokenizers)', () => {
  const tok = loadTokenizer(readFileSync(`${DEV}/tokenizer.json`, 'utf8'), readFileSync(`${DEV}/tokenizer_config.json`, 'utf8'));
  it('round-trips bytes and finds EOS and the chat template', () => {
    const ids = tok.encode('héllo');
    expect(ids).toEqual([104, 195, 169, 108, 108, 111]);
    expect(tok.decode(ids)).toBe('héllo');
    expect(tok.eosId).toBe(256);
    expect(tok.hasChatTemplate).toBe(true);
    expect(tok.renderChat([{ role: 'user', content: 'q' }], true)).toBe('<|user|>\nq\n<|assistant|>\n');
  });
  it('falls back to the default template without tokenizer_config.json', () => {
    const plain = loadTokenizer(readFileSync(`${DEV}/tokenizer.json`, 'utf8'), null);
    expect(plain.eosId).toBeNull();
    expect(plain.renderChat([{ role: 'user', content: 'q' }], true)).toBe('<|user|>\nq\n<|assistant|>\n');
  });
  it('refuses a file that is not a tokenizer', () => {
    expect(() => loadTokenizer('{"x": 1}', null)).toThrow(/tokenizer.json: missing "model"/);
  });
});
