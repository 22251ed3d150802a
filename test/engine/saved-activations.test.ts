import { describe, expect, it } from 'vitest';
import { FullRankTarget } from '../../src/train/full-rank';
import type { ModelConfig } from '../../src/formats/hf-config';
import { BufferPool } from '../../src/gpu/buffer-pool';
import { Transformer } from '../../src/model/transformer';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { checked, useGpu } from '../helpers/gpu';
import { loadCase } from './fixtures';

const gpu = useGpu();

/** Pool bytes of tensors of these shapes (each rounded as the pool rounds it). */
const bytesOf = (...numels: number[]) => numels.reduce((n, e) => n + BufferPool.roundedSize(e * 4), 0);

/**
 * What a Llama training forward must keep when no linear layer's input is read by backward
 * (frozen model): per layer rstd1, q, k, v, the probabilities, the mid residual, rstd2, gate
 * and up; the residual stream; the final norm's statistics; and the logits it returns.
 */
function frozenKeptBytes(c: ModelConfig, B: number, S: number): number {
  const T = B * S;
  const { hiddenSize: C, numHeads: H, numKvHeads: KVH, headDim: D, intermediateSize: I, vocabSize: V, numLayers: L } = c;
  const perLayer = bytesOf(T, T * H * D, T * KVH * D, T * KVH * D, B * H * S * S, T * C, T, T * I, T * I);
  return L * perLayer + (L + 1) * bytesOf(T * C) + bytesOf(T * 2) + bytesOf(T * V);
}

/** The inputs of the linear layers (n1, attention output, n2, SwiGLU output) per layer, and the head's. */
function linearInputBytes(c: ModelConfig, T: number): number {
  const { hiddenSize: C, numHeads: H, headDim: D, intermediateSize: I, numLayers: L } = c;
  return L * bytesOf(T * C, T * H * D, T * C, T * I) + bytesOf(T * C);
}

describe('a training forward keeps only what its backward reads', () => {
  it('frozen linear layers: their inputs are freed at once; full rank: every input is kept, and backward runs', async () => {
    const rt = gpu();
    const c = await loadCase('llama-lora-qv');
    const config = c.model.config;
    const model = new Transformer(rt, config, c.model.weights);
    const batch = uploadBatch(rt, c.batch);
    const { B, S } = batch;
    const step = { training: true, seed: 0 };
    // The RoPE tables are the model's, built by the first pass that needs them (RopeTable).
    rt.release(model.forward(batch, null, { training: false, seed: 0 }, false));

    const before = rt.pool.bytesInUse;
    const logits = await checked(rt, () => model.forward(batch, null, step, true));
    expect(rt.pool.bytesInUse - before).toBe(frozenKeptBytes(config, B, S));
    model.releaseActivations();
    rt.release(logits);
    expect(rt.pool.bytesInUse).toBe(before);

    const target = new FullRankTarget(rt, model);
    const withGrads = rt.pool.bytesInUse;
    const fullLogits = await checked(rt, () => model.forward(batch, null, step, true, target.baseGrads));
    expect(rt.pool.bytesInUse - withGrads).toBe(frozenKeptBytes(config, B, S) + linearInputBytes(config, B * S));
    model.releaseActivations();
    rt.release(fullLogits);

    // A backward that needs an input the forward was not told to keep says so instead of reading freed memory.
    const plain = model.forward(batch, null, step, true);
    expect(() => model.backward(batch, null, step, plain, target.baseGrads)).toThrow(/did not keep/);
    model.releaseActivations();
    rt.release(plain);
    rt.flush();

    target.destroy();
    releaseBatch(rt, batch);
    model.destroy();
  });
});
