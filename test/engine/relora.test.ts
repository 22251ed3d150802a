import { describe, expect, it } from 'vitest';
import { createAdapter } from '../../src/adapters/load';
import type { LayeredAdapter } from '../../src/adapters/lora';
import type { LoraLayer } from '../../src/adapters/lora/layer';
import { ReloraRun, type ReloraSettings } from '../../src/train/relora';
import { jaggedCosine } from '../../src/train/relora/schedule';
import { linearModules } from '../../src/formats/hf-config';
import type { AdapterSpec } from '../../src/formats/peft';
import { magnitudeThreshold, pruneBelow, pruneRandom } from '../../src/kernels/prune';
import { Transformer } from '../../src/model/transformer';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { recordLoss } from '../../src/train/step';
import { evaluateLoss } from '../../src/train/trainer';
import { checked, useGpu } from '../helpers/gpu';
import { randn, relErr } from '../helpers/ref';
import { loadCase } from './fixtures';

const gpu = useGpu();
const EVAL = { training: false, seed: 0 };

describe('ReLoRA merge', () => {
  for (const name of ['llama-lora-qv', 'gpt2-lora', 'qwen2-lora-bias', 'qwen3-dora', 'gemma3-lora'] as const) {
    it(`${name}: merging s·BA into W and re-initialising leaves the logits unchanged`, async () => {
      const rt = gpu();
      const c = await loadCase(name);
      const model = new Transformer(rt, c.model.config, c.model.weights);
      const names = [...new Set(linearModules(c.model.config).map((m) => m.name))];
      const spec: AdapterSpec = {
        method: 'lora',
        rank: 3,
        alpha: 6,
        rslora: false,
        dropout: 0,
        targets: names,
        fanInFanOut: c.model.config.arch === 'gpt2',
        options: {},
      };
      const adapter = (await createAdapter(rt, model, spec, 1)) as LayeredAdapter;
      for (const p of adapter.parameters()) if (p.key.includes('lora_B')) rt.upload(p.value, randn(p.value.numel, p.value.numel, 0.3));
      const batch = uploadBatch(rt, c.batch);
      const lossOut = rt.tensor([1], 'loss');
      const logitsOf = async (withAdapter: boolean) => {
        const l = recordLoss(rt, model, withAdapter ? adapter : null, batch, EVAL, { withGrad: false, lossOut, keepLogits: true })!;
        const data = await rt.read(l);
        rt.release(l);
        return data;
      };
      const before = await logitsOf(true);
      expect(relErr(await logitsOf(false), before)).toBeGreaterThan(1e-3); // the adapter does change the model
      await checked(rt, () => {
        for (const m of linearModules(c.model.config)) {
          (adapter.layerFor(m.modulePath) as LoraLayer).mergeAndReinit(rt, randn(3 * m.inFeatures, m.inFeatures, 0.2));
        }
      });
      expect(relErr(await logitsOf(false), before)).toBeLessThan(1e-5);
      expect(relErr(await logitsOf(true), before)).toBeLessThan(1e-5); // B = 0 after the reset
      rt.release(lossOut);
      releaseBatch(rt, batch);
      adapter.destroy(rt);
      model.destroy();
    });
  }
});

describe('jagged cosine schedule', () => {
  const s = { totalSteps: 40, warmupSteps: 3, resetEvery: 6, restartWarmupSteps: 2, minLrRatio: 0.1, resetOffset: 10 };
  // The formula, written out independently: warmup, cosine to min over the run, re-warmups.
  const cosine = (t: number) => 0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, (t - 3) / 37)));
  const expected = (t: number) => {
    if (t < 3) return t / 3;
    const resets = [16, 22, 28, 34];
    for (const r of resets) if (t >= r && t < r + 2) return ((t - r) / 2) * cosine(r + 2);
    return cosine(t);
  };

  it('equals its formula at every step', () => {
    for (let t = 0; t < 40; t++) expect(jaggedCosine(t, s), `step ${t}`).toBeCloseTo(expected(t), 12);
  });

  it('is jagged: it drops to 0 at each reset and climbs back to the cosine', () => {
    expect(jaggedCosine(16, s)).toBe(0);
    expect(jaggedCosine(18, s)).toBeCloseTo(cosine(18), 12);
    expect(jaggedCosine(15, s)).toBeGreaterThan(0.5);
  });
});

describe('optimizer pruning', () => {
  it('random pruning zeroes the requested fraction; magnitude pruning zeroes the smallest', async () => {
    const rt = gpu();
    const n = 20000;
    const data = randn(n, 3).map((v) => v + Math.sign(v) * 1e-3); // no exact zeros
    const a = rt.tensor([n], 'a', data);
    const b = rt.tensor([n], 'b', data);
    const threshold = magnitudeThreshold(data, 0.25);
    await checked(rt, () => {
      pruneRandom(rt, a, 0.999, 11);
      pruneBelow(rt, b, threshold);
    });
    const zerosA = (await rt.read(a)).filter((v) => v === 0).length / n;
    expect(Math.abs(zerosA - 0.999)).toBeLessThan(0.002);
    const pruned = await rt.read(b);
    expect(pruned.filter((v) => v === 0).length).toBe(n / 4);
    const smallest = [...data].map(Math.abs).sort((x, y) => x - y)[n / 4 - 1];
    for (const [i, v] of pruned.entries()) expect(v === 0).toBe(Math.abs(data[i]!) <= smallest!);
    rt.release(a, b);
  });
});

describe('ReLoRA run', () => {
  it('lowers the loss across three resets, with the jagged lr, and exports a merged model', async () => {
    const rt = gpu();
    const c = await loadCase('llama-lora-qv');
    const model = new Transformer(rt, c.model.config, c.model.weights);
    const batch = uploadBatch(rt, c.batch);
    const settings: ReloraSettings = {
      rank: 4,
      alpha: 8,
      totalSteps: 24,
      warmStartSteps: 4,
      resetEvery: 5,
      firstWarmupSteps: 2,
      restartWarmupSteps: 2,
      pruning: 'random',
      pruningRatio: 0.999,
      minLrRatio: 0.1,
    };
    const run = new ReloraRun(rt, model, settings, {
      lr: 0.004,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0,
      maxGradNorm: 1,
      seed: 2,
    });
    const steps = [];
    for (let i = 0; i < settings.totalSteps; i++) steps.push(await run.trainStep(batch));
    expect(steps.filter((s) => s.reset).map((s) => s.step)).toEqual([9, 14, 19]);
    expect(steps.slice(0, 4).every((s) => s.phase === 'warm-start')).toBe(true);
    for (const s of steps) expect(s.lr).toBeCloseTo(0.004 * run.lrMultiplier(s.step), 12);
    // Each cycle ends lower than the one before it, across all three resets.
    for (const r of [9, 14, 19]) expect(steps[r + 4]!.loss).toBeLessThan(steps[r - 1]!.loss);
    expect(steps[23]!.loss).toBeLessThan(steps[0]!.loss);
    const merged = await run.exportMergedWeights();
    const mergedModel = new Transformer(rt, c.model.config, merged);
    const lossMerged = await evaluateLoss(rt, mergedModel, null, batch);
    const lossNow = await evaluateLoss(rt, model, null, batch);
    expect(Math.abs(lossMerged - lossNow) / lossNow).toBeLessThan(1e-5);
    mergedModel.destroy();
    run.destroy();
    releaseBatch(rt, batch);
    model.destroy();
  });
});

describe('ReLoRA LoRA phase on a model with biases (Qwen2)', () => {
  it('keeps training the q/k/v biases full-rank, as it does embeddings and norms', async () => {
    const rt = gpu();
    const c = await loadCase('qwen2-full');
    const model = new Transformer(rt, c.model.config, c.model.weights);
    const batch = uploadBatch(rt, c.batch);
    const settings: ReloraSettings = {
      rank: 2,
      alpha: 4,
      totalSteps: 8,
      warmStartSteps: 2,
      resetEvery: 4,
      firstWarmupSteps: 1,
      restartWarmupSteps: 1,
      pruning: 'random',
      pruningRatio: 0.9,
      minLrRatio: 0.1,
    };
    const run = new ReloraRun(rt, model, settings, {
      lr: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0,
      maxGradNorm: 0,
      seed: 1,
    });
    const biasKeys = ['q_proj', 'k_proj', 'v_proj'].map((m) => `model.layers.1.self_attn.${m}.bias`);
    const biases = async () => {
      const w = await run.exportMergedWeights();
      return biasKeys.map((k) => Array.from(w.get(k)!.data));
    };
    for (let i = 0; i < 3; i++) await run.trainStep(batch); // the warm start, then the first LoRA step
    const before = await biases();
    const step = await run.trainStep(batch);
    expect(step.phase).toBe('relora');
    const after = await biases();
    for (const [i, k] of biasKeys.entries()) expect(after[i], k).not.toEqual(before[i]);
    run.destroy();
    releaseBatch(rt, batch);
    model.destroy();
  });
});

describe('optimizer-state pruning at a reset', () => {
  it('random pruning zeroes m and v of an element together (one mask), and only the listed parameters', async () => {
    const rt = gpu();
    const c = await loadCase('llama-lora-qv');
    const model = new Transformer(rt, c.model.config, c.model.weights);
    const adapter = (await createAdapter(
      rt,
      model,
      {
        method: 'lora',
        rank: 4,
        alpha: 8,
        rslora: false,
        dropout: 0,
        targets: ['q_proj', 'v_proj'],
        fanInFanOut: false,
        options: {},
      },
      3,
    )) as LayeredAdapter;
    for (const p of adapter.parameters()) if (p.key.includes('lora_B')) rt.upload(p.value, randn(p.value.numel, 7, 0.1));
    const batch = uploadBatch(rt, c.batch);
    const { Trainer } = await import('../../src/train/trainer');
    const trainer = new Trainer(rt, model, adapter, {
      lr: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0,
      maxGradNorm: 0,
      seed: 0,
    });
    await trainer.trainStep(batch);
    const [pruned, kept] = adapter.parameters();
    const keptBefore = await rt.read(trainer.moments(kept!.key)!.m);
    await trainer.pruneOptimizerState(new Set([pruned!.key]), 'random', 0.5, 9);
    const m = await rt.read(trainer.moments(pruned!.key)!.m);
    const v = await rt.read(trainer.moments(pruned!.key)!.v);
    const zeroM = m.map((x) => (x === 0 ? 1 : 0));
    expect(zeroM.reduce((a, b) => a + b, 0) / m.length).toBeGreaterThan(0.3);
    for (const [i, x] of m.entries()) expect(x === 0, `element ${i}`).toBe(v[i] === 0);
    expect(await rt.read(trainer.moments(kept!.key)!.m)).toEqual(keptBefore);
    trainer.destroy();
    releaseBatch(rt, batch);
    adapter.destroy(rt);
    model.destroy();
  });
});
