import { describe, expect, it } from 'vitest';
import { loadAdapter } from '../../src/adapters/load';
import type { GpuRuntime } from '../../src/gpu/runtime';
import { Transformer } from '../../src/model/transformer';
import { recordLoss } from '../../src/train/step';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { evaluateLoss, Trainer } from '../../src/train/trainer';
import { checked, useGpu } from '../helpers/gpu';
import { relErr } from '../helpers/ref';
import { ADAPTER_CASES, loadCase, type FixtureCase } from './fixtures';

const gpu = useGpu();
const EVAL = { training: false, seed: 0 };

function setup(rt: GpuRuntime, c: FixtureCase) {
  const model = new Transformer(rt, c.model.config, c.model.weights);
  const adapter = loadAdapter(rt, model, c.adapter.spec, c.adapter.tensors, c.dir);
  const batch = uploadBatch(rt, c.batch);
  const done = () => {
    releaseBatch(rt, batch);
    adapter.destroy(rt);
    model.destroy();
  };
  return { model, adapter, batch, done };
}

describe.each(ADAPTER_CASES)('golden fixture %s', (name) => {
  it('logits with and without the adapter, and the loss, match PyTorch within 1e-4', async () => {
    const rt = gpu();
    const c = await loadCase(name);
    const { model, adapter, batch, done } = setup(rt, c);
    const lossOut = rt.tensor([1], 'loss');
    const [logits, baseLogits] = await checked(rt, () => [
      recordLoss(rt, model, adapter, batch, EVAL, { withGrad: false, lossOut, keepLogits: true })!,
      recordLoss(rt, model, null, batch, EVAL, { withGrad: false, lossOut, keepLogits: true })!,
    ]);
    const expected = c.expected('logits');
    expect(relErr(await rt.read(logits), expected.get('logits')!.data)).toBeLessThan(1e-4);
    expect(relErr(await rt.read(baseLogits), expected.get('base_logits')!.data)).toBeLessThan(1e-4);
    const loss = await evaluateLoss(rt, model, adapter, batch);
    expect(Math.abs(loss - c.summary.loss) / c.summary.loss).toBeLessThan(1e-4);
    rt.release(logits, baseLogits, lossOut);
    done();
  });

  it('gradients of every trainable tensor match within 1e-3', async () => {
    const rt = gpu();
    const c = await loadCase(name);
    const { model, adapter, batch, done } = setup(rt, c);
    const a = c.summary.adamw;
    const trainer = new Trainer(rt, model, adapter, {
      lr: a.lr,
      beta1: a.betas[0],
      beta2: a.betas[1],
      eps: a.eps,
      weightDecay: a.weight_decay,
      maxGradNorm: 0,
      seed: 0,
    });
    await checked(rt, () => trainer.recordGradients(batch));
    const expected = c.expected('grads');
    const keys = adapter.parameters().map((p) => p.key);
    expect([...keys].sort()).toEqual([...c.summary.trainable].sort());
    for (const p of adapter.parameters()) {
      const err = relErr(await rt.read(p.grad), expected.get(p.key)!.data);
      expect(err, p.key).toBeLessThan(1e-3);
    }
    trainer.destroy();
    done();
  });

  it('AdamW steps reproduce the losses and the parameters within 1e-4', async () => {
    const rt = gpu();
    const c = await loadCase(name);
    const { model, adapter, batch, done } = setup(rt, c);
    const a = c.summary.adamw;
    const trainer = new Trainer(rt, model, adapter, {
      lr: a.lr,
      beta1: a.betas[0],
      beta2: a.betas[1],
      eps: a.eps,
      weightDecay: a.weight_decay,
      maxGradNorm: 0,
      seed: 0,
    });
    for (let s = 0; s < a.steps; s++) {
      const loss = await trainer.trainStep(batch);
      expect(Math.abs(loss - c.summary.adamw_step_losses[s]!) / c.summary.adamw_step_losses[s]!).toBeLessThan(1e-4);
    }
    const after = await evaluateLoss(rt, model, adapter, batch);
    expect(Math.abs(after - c.summary.loss_after_adamw) / c.summary.loss_after_adamw).toBeLessThan(1e-4);
    const expected = c.expected('after_adamw');
    for (const p of adapter.parameters()) {
      expect(relErr(await rt.read(p.value), expected.get(p.key)!.data), p.key).toBeLessThan(1e-4);
    }
    trainer.destroy();
    done();
  });
});
