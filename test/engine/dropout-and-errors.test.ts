import { describe, expect, it } from 'vitest';
import { createAdapter } from '../../src/adapters/load';
import type { StepContext } from '../../src/adapters/types';
import type { AdapterSpec } from '../../src/formats/peft';
import { createRuntime, WebGpuUnavailableError } from '../../src/gpu/device';
import { Transformer } from '../../src/model/transformer';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { EmptyBatchError, recordLoss } from '../../src/train/step';
import { Trainer } from '../../src/train/trainer';
import { checked, useGpu } from '../helpers/gpu';
import { loadCase } from './fixtures';

const gpu = useGpu();

function spec(method: AdapterSpec['method'], dropout: number): AdapterSpec {
  return {
    method,
    rank: 2,
    alpha: 4,
    rslora: false,
    dropout,
    targets: ['q_proj', 'v_proj', 'down_proj'],
    fanInFanOut: false,
    options: {},
  };
}

describe('adapter dropout (applied to the adapter input, as PEFT does)', () => {
  for (const method of ['lora', 'dora', 'vera'] as const) {
    it(`${method}: the gradient with a dropout mask matches finite differences of the loss under the same mask`, async () => {
      const rt = gpu();
      const c = await loadCase('llama-lora-qv');
      const model = new Transformer(rt, c.model.config, c.model.weights);
      const adapter = await createAdapter(rt, model, spec(method, 0.4), 5);
      // Move B (or λ_b) off zero so every factor gets a gradient.
      for (const p of adapter.parameters()) {
        if (/lora_B|lambda_b/.test(p.key))
          rt.upload(
            p.value,
            Float32Array.from({ length: p.value.numel }, (_, i) => Math.sin(i + 1) * 0.3),
          );
      }
      const batch = uploadBatch(rt, c.batch);
      const step: StepContext = { training: true, seed: 77 };
      const lossOut = rt.tensor([1], 'loss');
      const lossAt = async (ctx: StepContext) => {
        recordLoss(rt, model, adapter, batch, ctx, { withGrad: false, lossOut });
        return (await rt.read(lossOut))[0];
      };
      const trainer = new Trainer(rt, model, adapter, {
        lr: 0,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: 0,
        maxGradNorm: 0,
        seed: 0,
      });
      await checked(rt, () => {
        for (const p of adapter.parameters()) rt.clear(p.grad);
        recordLoss(rt, model, adapter, batch, step, { withGrad: true, lossOut });
      });
      const withDropout = await lossAt(step);
      expect(withDropout).not.toBeCloseTo((await lossAt({ training: false, seed: 77 }))!, 4);
      expect(await lossAt(step)).toBe(withDropout); // the mask is a function of the seed
      expect(await lossAt({ training: true, seed: 78 })).not.toBe(withDropout);
      // Central differences on a few entries of each trainable tensor, same seed → same mask.
      const h = 1e-2;
      // DoRA's A and B gradients treat ‖W + sBA‖ as a constant (PEFT, paper §4.3), so they are
      // not the derivative of the loss; the fixtures check those. The magnitude's gradient is exact.
      const probed = adapter.parameters().filter((p) => method !== 'dora' || p.key.endsWith('lora_magnitude_vector'));
      for (const p of probed) {
        const value = await rt.read(p.value);
        const grad = await rt.read(p.grad);
        const probe = [0, Math.floor(value.length / 2), value.length - 1];
        for (const i of probe) {
          const up = value.slice();
          up[i]! += h;
          rt.upload(p.value, up);
          const lUp = await lossAt(step);
          up[i]! -= 2 * h;
          rt.upload(p.value, up);
          const lDown = await lossAt(step);
          rt.upload(p.value, value);
          const fd = (lUp! - lDown!) / (2 * h);
          expect(Math.abs(fd - grad[i]!), `${p.key}[${i}] fd=${fd} grad=${grad[i]}`).toBeLessThan(2e-3 + 2e-2 * Math.abs(grad[i]!));
        }
      }
      trainer.destroy();
      rt.release(lossOut);
      releaseBatch(rt, batch);
      adapter.destroy(rt);
      model.destroy();
    });
  }
});

describe('clear errors', () => {
  it('without WebGPU the runtime says so', async () => {
    await expect(createRuntime(undefined, () => '')).rejects.toThrow(WebGpuUnavailableError);
    await expect(createRuntime(undefined, () => '')).rejects.toThrow(/WebGPU is not available/);
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    await expect(createRuntime(noAdapter, () => '')).rejects.toThrow(/no GPU adapter/);
  });

  it('a batch whose labels are all ignored is refused before any GPU work', async () => {
    const rt = gpu();
    const c = await loadCase('gpt2-lora');
    const model = new Transformer(rt, c.model.config, c.model.weights);
    const batch = uploadBatch(rt, { ...c.batch, labels: new Int32Array(c.batch.labels.length).fill(-100) });
    const lossOut = rt.tensor([1], 'loss');
    expect(() => recordLoss(rt, model, null, batch, { training: false, seed: 0 }, { withGrad: false, lossOut })).toThrow(EmptyBatchError);
    rt.release(lossOut);
    releaseBatch(rt, batch);
    model.destroy();
  });
});
