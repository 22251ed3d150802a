/**
 * The chunked LM head + cross-entropy (train/head-loss.ts) against the whole-logits pass
 * (Transformer.forward + crossEntropy + Transformer.backward), on fixture models: the loss and
 * every gradient (adapter, and in full-rank runs the head's own, tied or not) must not change
 * with the chunk size, including one row a chunk and sizes that do not divide the rows.
 */
import { describe, expect, it } from 'vitest';
import { loadAdapter } from '../../src/adapters/load';
import type { TrainableParam } from '../../src/adapters/types';
import type { GpuRuntime } from '../../src/gpu/runtime';
import type { Tensor } from '../../src/gpu/tensor';
import { crossEntropy, reduceSum } from '../../src/kernels/loss';
import { Transformer } from '../../src/model/transformer';
import { releaseBatch, uploadBatch, type DeviceBatch } from '../../src/train/device-batch';
import { FullRankTarget } from '../../src/train/full-rank';
import { HEAD_CHUNK_BYTES, headChunkRows } from '../../src/train/head-loss';
import { recordLoss } from '../../src/train/step';
import { checked, useGpu } from '../helpers/gpu';
import { relErr } from '../helpers/ref';
import { loadCase } from './fixtures';

const gpu = useGpu();
const STEP = { training: true, seed: 3 };

interface Outcome {
  loss: number;
  grads: Map<string, Float32Array>;
}

async function readOutcome(rt: GpuRuntime, lossOut: Tensor, params: readonly TrainableParam[]): Promise<Outcome> {
  const grads = new Map<string, Float32Array>();
  for (const p of params) grads.set(p.key, await rt.read(p.grad));
  return { loss: (await rt.read(lossOut))[0]!, grads };
}

/** The whole-logits pass: what recordLoss did before the head was chunked. */
function wholeLogitsStep(
  rt: GpuRuntime,
  model: Transformer,
  adapter: Parameters<Transformer['forward']>[1],
  batch: DeviceBatch,
  lossOut: Tensor,
  baseGrads: ReadonlyMap<Tensor, Tensor> | null,
): void {
  const T = batch.B * batch.S;
  const invCount = 1 / batch.targetCount;
  const logits = model.forward(batch, adapter, STEP, true, baseGrads);
  const losses = rt.tensor([T], 'row_losses');
  crossEntropy(rt, { logits, targets: batch.targets, losses, T, V: model.config.vocabSize, invCount, writeGrad: true });
  reduceSum(rt, losses, lossOut, T, invCount);
  model.backward(batch, adapter, STEP, logits, baseGrads);
  rt.release(logits, losses);
}

async function compareChunkings(name: string, fullRank: boolean): Promise<void> {
  const rt = gpu();
  const c = await loadCase(name);
  const model = new Transformer(rt, c.model.config, c.model.weights);
  const adapter = fullRank ? null : loadAdapter(rt, model, c.adapter.spec, c.adapter.tensors, c.dir);
  const target = fullRank ? new FullRankTarget(rt, model) : null;
  const params = target ? target.params : adapter!.parameters();
  const baseGrads = target?.baseGrads ?? null;
  const batch = uploadBatch(rt, c.batch);
  const T = batch.B * batch.S;
  const lossOut = rt.tensor([1], 'loss');
  const clear = () => {
    for (const p of params) rt.clear(p.grad);
  };

  clear();
  await checked(rt, () => wholeLogitsStep(rt, model, adapter, batch, lossOut, baseGrads));
  const reference = await readOutcome(rt, lossOut, params);
  expect(reference.grads.size).toBeGreaterThan(0);
  for (const rows of [T, 1, 3, T - 1]) {
    clear();
    await checked(rt, () => recordLoss(rt, model, adapter, batch, STEP, { withGrad: true, lossOut, baseGrads, headRows: rows }));
    const got = await readOutcome(rt, lossOut, params);
    expect(Math.abs(got.loss - reference.loss), `loss, ${rows} rows a chunk`).toBeLessThanOrEqual(1e-6 * reference.loss);
    for (const [key, g] of reference.grads) {
      expect(relErr(got.grads.get(key)!, g), `${key}, ${rows} rows a chunk`).toBeLessThan(1e-5);
    }
    // Without gradients the chunked loss is the same number, and no gradient moves.
    clear();
    await checked(rt, () => recordLoss(rt, model, adapter, batch, STEP, { withGrad: false, lossOut, baseGrads, headRows: rows }));
    const lossOnly = await readOutcome(rt, lossOut, params);
    expect(Math.abs(lossOnly.loss - reference.loss)).toBeLessThanOrEqual(1e-6 * reference.loss);
    for (const g of lossOnly.grads.values()) expect(g.every((v) => v === 0)).toBe(true);
  }
  rt.release(lossOut);
  releaseBatch(rt, batch);
  target?.destroy();
  adapter?.destroy(rt);
  model.destroy();
}

describe('the LM head and loss in chunks of rows', () => {
  it('LoRA on Llama: the loss and adapter gradients do not depend on the chunk size', () => compareChunkings('llama-lora-qv', false));
  it('full rank on GPT-2 (head tied to the embedding): every gradient, the head included', () => compareChunkings('gpt2-full', true));
  it('full rank on Qwen3: every gradient, the head included', () => compareChunkings('qwen3-full', true));

  it('chunks hold the budget and the binding limit, at least one row, never more rows than the batch', () => {
    const rt = gpu();
    const V = 151_936;
    const limit = Math.min(rt.info.maxStorageBufferBindingSize, rt.info.maxBufferSize, HEAD_CHUNK_BYTES);
    const rows = headChunkRows(rt.info, 512, V);
    expect(rows * V * 4).toBeLessThanOrEqual(limit);
    expect((rows + 1) * V * 4).toBeGreaterThan(limit);
    expect(headChunkRows(rt.info, 7, 50)).toBe(7);
    expect(headChunkRows(rt.info, 512, V, 4096)).toBe(1);
  });
});
