/**
 * Gradient checkpointing (Transformer.recomputeLayers): a training forward keeps only the
 * residual stream, backward reruns each layer; the gradients must be the very same numbers,
 * dropout masks included, for adapters and for full-rank training.
 */
import { describe, expect, it } from 'vitest';
import { loadAdapter } from '../../src/adapters/load';
import type { TrainableParam } from '../../src/adapters/types';
import { BufferPool } from '../../src/gpu/buffer-pool';
import type { GpuRuntime } from '../../src/gpu/runtime';
import type { Tensor } from '../../src/gpu/tensor';
import { Transformer } from '../../src/model/transformer';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { FullRankTarget } from '../../src/train/full-rank';
import { recordLoss } from '../../src/train/step';
import { checked, useGpu } from '../helpers/gpu';
import { loadCase } from './fixtures';

const gpu = useGpu();
const STEP = { training: true, seed: 11 };

async function grads(rt: GpuRuntime, params: readonly TrainableParam[]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const p of params) out.set(p.key, await rt.read(p.grad));
  return out;
}

async function compare(name: string, mode: 'adapter' | 'full', dropout = 0): Promise<void> {
  const rt = gpu();
  const c = await loadCase(name);
  const model = new Transformer(rt, c.model.config, c.model.weights);
  const adapter = mode === 'adapter' ? loadAdapter(rt, model, { ...c.adapter.spec, dropout }, c.adapter.tensors, c.dir) : null;
  const target = mode === 'full' ? new FullRankTarget(rt, model) : null;
  const params = target ? target.params : adapter!.parameters();
  const baseGrads: ReadonlyMap<Tensor, Tensor> | null = target?.baseGrads ?? null;
  const batch = uploadBatch(rt, c.batch);
  const lossOut = rt.tensor([1], 'loss');
  const run = async (recompute: boolean) => {
    for (const p of params) rt.clear(p.grad);
    model.recomputeLayers = recompute;
    await checked(rt, () => recordLoss(rt, model, adapter, batch, STEP, { withGrad: true, lossOut, baseGrads }));
    return { loss: (await rt.read(lossOut))[0]!, grads: await grads(rt, params) };
  };
  const plain = await run(false);
  const recomputed = await run(true);
  expect(recomputed.loss).toBe(plain.loss);
  expect(plain.grads.size).toBeGreaterThan(0);
  for (const [key, g] of plain.grads) {
    expect(
      g.some((v) => v !== 0),
      key,
    ).toBe(true);
    expect(recomputed.grads.get(key), key).toEqual(g);
  }
  model.recomputeLayers = false;
  rt.release(lossOut);
  releaseBatch(rt, batch);
  target?.destroy();
  adapter?.destroy(rt);
  model.destroy();
}

describe('gradient checkpointing', () => {
  it('LoRA on Llama with dropout: the same loss and gradients, bit for bit', () => compare('llama-lora-qv', 'adapter', 0.1));
  it('DoRA on Qwen3: the same gradients', () => compare('qwen3-dora', 'adapter'));
  it('VeRA on GPT-2: the same gradients', () => compare('gpt2-vera', 'adapter'));
  it('full rank on Gemma 3 (sliding layers, sandwich norms): every weight gets the same gradient', () => compare('gemma3-full', 'full'));

  it('a training forward keeps only the residual stream and the final norm', async () => {
    const rt = gpu();
    const c = await loadCase('llama-lora-qv');
    const model = new Transformer(rt, c.model.config, c.model.weights);
    const adapter = loadAdapter(rt, model, c.adapter.spec, c.adapter.tensors, c.dir);
    const batch = uploadBatch(rt, c.batch);
    const T = batch.B * batch.S;
    const { hiddenSize: C, numLayers: L } = c.model.config;
    rt.release(model.forwardHidden(batch, adapter, { training: false, seed: 0 }, false)); // builds the RoPE tables
    const before = rt.pool.bytesInUse;
    model.recomputeLayers = true;
    await checked(rt, () => model.forwardHidden(batch, adapter, STEP, true));
    const residualsAndFinal =
      (L + 1) * BufferPool.roundedSize(T * C * 4) + BufferPool.roundedSize(T * 2 * 4) + BufferPool.roundedSize(T * C * 4);
    expect(rt.pool.bytesInUse - before).toBe(residualsAndFinal);
    model.releaseActivations();
    model.recomputeLayers = false;
    expect(rt.pool.bytesInUse).toBe(before);
    releaseBatch(rt, batch);
    adapter.destroy(rt);
    model.destroy();
  });
});
