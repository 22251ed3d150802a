import { describe, expect, it } from 'vitest';
import { FullRankTarget } from '../../src/train/full-rank';
import { Transformer } from '../../src/model/transformer';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { evaluateLoss, Trainer } from '../../src/train/trainer';
import { checked, useGpu } from '../helpers/gpu';
import { relErr } from '../helpers/ref';
import { FULL_CASES, loadCase } from './fixtures';

const gpu = useGpu();

describe.each(FULL_CASES)('golden fixture %s (full-rank: every base weight trains)', (name) => {
  it('gradients of every base weight within 1e-3 and weights after AdamW within 1e-4', async () => {
    const rt = gpu();
    const c = await loadCase(name);
    const model = new Transformer(rt, c.model.config, c.model.weights);
    const target = new FullRankTarget(rt, model);
    expect(target.params.map((p) => p.key).sort()).toEqual([...c.summary.trainable].sort());
    const batch = uploadBatch(rt, c.batch);
    const a = c.summary.adamw;
    const trainer = new Trainer(rt, model, target, {
      lr: a.lr,
      beta1: a.betas[0],
      beta2: a.betas[1],
      eps: a.eps,
      weightDecay: a.weight_decay,
      maxGradNorm: 0,
      seed: 0,
    });
    await checked(rt, () => trainer.recordGradients(batch));
    const grads = c.expected('grads');
    for (const p of target.params) expect(relErr(await rt.read(p.grad), grads.get(p.key)!.data), p.key).toBeLessThan(1e-3);

    const losses = [];
    for (let s = 0; s < a.steps; s++) losses.push(await trainer.trainStep(batch));
    for (const [i, l] of losses.entries()) expect(Math.abs(l - c.summary.adamw_step_losses[i]!) / l).toBeLessThan(1e-4);
    const after = c.expected('after_adamw');
    for (const p of target.params) expect(relErr(await rt.read(p.value), after.get(p.key)!.data), p.key).toBeLessThan(1e-4);
    const final = await evaluateLoss(rt, model, null, batch);
    expect(Math.abs(final - c.summary.loss_after_adamw) / final).toBeLessThan(1e-4);
    trainer.destroy();
    target.destroy();
    releaseBatch(rt, batch);
    model.destroy();
  });
});
