/**
 * The token embedding and LM head split into row blocks (Transformer's maxTensorBytes), as on a
 * device whose per-buffer limit is below them: at a 4 KiB limit every fixture model's vocabulary
 * spreads over several blocks, and the logits, the loss, every adapter gradient and the cached
 * decoding's logits must be those of the model in one buffer, on the CPU and the GPU kernels.
 */
import { describe, expect, it } from 'vitest';
import { loadAdapter } from '../../src/adapters/load';
import { CPU_PROFILE, GPU_PROFILE, type GpuRuntime, type KernelProfile } from '../../src/gpu/runtime';
import { KvCache } from '../../src/model/kv-cache';
import { Transformer } from '../../src/model/transformer';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { FullRankTarget } from '../../src/train/full-rank';
import { recordLoss } from '../../src/train/step';
import { checked, useGpu } from '../helpers/gpu';
import { relErr } from '../helpers/ref';
import { type FixtureCase, loadCase } from './fixtures';

const gpu = useGpu();
const STEP = { training: true, seed: 5 };
const EVAL = { training: false, seed: 0 };
const TINY = 4096;

interface Outcome {
  logits: Float32Array;
  loss: number;
  grads: Map<string, Float32Array>;
  decoded: Float32Array;
}

async function outcome(rt: GpuRuntime, c: FixtureCase, maxTensorBytes?: number): Promise<Outcome> {
  const model = new Transformer(rt, c.model.config, c.model.weights, { maxTensorBytes });
  const adapter = loadAdapter(rt, model, c.adapter.spec, c.adapter.tensors, c.dir);
  const batch = uploadBatch(rt, c.batch);
  const lossOut = rt.tensor([1], 'loss');
  const logitsT = await checked(rt, () => recordLoss(rt, model, adapter, batch, EVAL, { withGrad: false, lossOut, keepLogits: true })!);
  const logits = await rt.read(logitsT);
  for (const p of adapter.parameters()) rt.clear(p.grad);
  await checked(rt, () => recordLoss(rt, model, adapter, batch, STEP, { withGrad: true, lossOut, headRows: 3 }));
  const loss = (await rt.read(lossOut))[0]!;
  const grads = new Map<string, Float32Array>();
  for (const p of adapter.parameters()) grads.set(p.key, await rt.read(p.grad));
  // Cached decoding of the batch's first row: prefill all but the last token, then one step.
  const S = c.batch.seq;
  const cache = new KvCache(rt, model.config, S);
  const prefix = rt.intTensor(new Uint32Array(c.batch.inputIds.subarray(0, S - 1)), 'prefix');
  rt.release(model.decode({ ids: prefix, B: 1, S: S - 1 }, adapter, cache));
  const last = rt.intTensor(new Uint32Array([c.batch.inputIds[S - 1]!]), 'last');
  const decodedT = await checked(rt, () => model.decode({ ids: last, B: 1, S: 1 }, adapter, cache));
  const decoded = await rt.read(decodedT);
  rt.release(logitsT, lossOut, prefix, last, decodedT);
  cache.destroy();
  releaseBatch(rt, batch);
  adapter.destroy(rt);
  model.destroy();
  return { logits, loss, grads, decoded };
}

const PROFILES: [string, KernelProfile][] = [
  ['cpu', CPU_PROFILE],
  ['gpu', GPU_PROFILE],
];

describe.each(PROFILES)('embedding and LM head in row blocks (kernel profile %s)', (_name, profile) => {
  // Untied Llama head, tied Qwen3 head, GPT-2's learned positions, Gemma's scaled embedding.
  it.each(['llama-lora-qv', 'qwen3-dora', 'gpt2-lora', 'gemma3-lora'])(
    '%s: the same logits, loss, gradients and decoding',
    async (name) => {
      const rt = gpu();
      const before = rt.setProfile(profile);
      try {
        const c = await loadCase(name);
        const rowsPerBlock = Math.floor(TINY / (4 * c.model.config.hiddenSize));
        expect(c.model.config.vocabSize).toBeGreaterThan(2 * rowsPerBlock); // several blocks, the last one partial or not
        const whole = await outcome(rt, c);
        const split = await outcome(rt, c, TINY);
        expect(relErr(split.logits, whole.logits)).toBeLessThan(1e-6);
        expect(Math.abs(split.loss - whole.loss)).toBeLessThanOrEqual(1e-6 * whole.loss);
        for (const [key, g] of whole.grads) expect(relErr(split.grads.get(key)!, g), key).toBeLessThan(1e-5);
        expect(relErr(split.decoded, whole.decoded)).toBeLessThan(1e-6);
      } finally {
        rt.setProfile(before);
      }
    },
  );
});

describe('a split weight', () => {
  it('full-rank training of an embedding in blocks is refused with the reason', async () => {
    const rt = gpu();
    const c = await loadCase('gpt2-full');
    const model = new Transformer(rt, c.model.config, c.model.weights, { maxTensorBytes: TINY });
    expect(() => new FullRankTarget(rt, model)).toThrow(
      /transformer\.wte\.weight \[\d+, \d+\] is split into \d+ buffers .* needs it in one/,
    );
    const whole = new Transformer(rt, c.model.config, c.model.weights);
    expect(model.parameterCount).toBe(whole.parameterCount);
    whole.destroy();
    model.destroy();
  });
});
