import { describe, expect, it } from 'vitest';
import { loadAdapter } from '../../src/adapters/load';
import { seededRandom } from '../../src/adapters/init';
import { IGNORE_INDEX, type TokenBatch } from '../../src/formats/batch';
import type { GpuRuntime } from '../../src/gpu/runtime';
import { Transformer } from '../../src/model/transformer';
import { trainHyper } from '../../src/train/defaults';
import { type DeviceBatch, releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { FullRankTarget } from '../../src/train/full-rank';
import { EmptyBatchError } from '../../src/train/step';
import { evaluateLoss, Trainer } from '../../src/train/trainer';
import type { TrainingTarget } from '../../src/train/target';
import type { Adapter } from '../../src/model/adapter';
import { useGpu } from '../helpers/gpu';
import { relErr } from '../helpers/ref';
import { loadCase } from './fixtures';

const gpu = useGpu();

const ROWS = 4;
const SEQ = 8;

/** Four rows with prompts of different lengths masked out, so the micro-batches have unequal target counts. */
function batchOf(vocab: number): TokenBatch {
  const random = seededRandom(11);
  const inputIds = Int32Array.from({ length: ROWS * SEQ }, () => Math.floor(random() * vocab));
  const labels = inputIds.map((id, i) => (i % SEQ < [0, 3, 1, 5][Math.floor(i / SEQ)]! ? IGNORE_INDEX : id));
  return { inputIds, labels, batch: ROWS, seq: SEQ };
}

function rowsOf(b: TokenBatch, from: number, to: number): TokenBatch {
  return {
    inputIds: b.inputIds.slice(from * b.seq, to * b.seq),
    labels: b.labels.slice(from * b.seq, to * b.seq),
    batch: to - from,
    seq: b.seq,
  };
}

async function gradients(rt: GpuRuntime, trainer: Trainer, params: TrainingTarget['params'], batches: DeviceBatch | DeviceBatch[]) {
  trainer.recordGradients(batches);
  const loss = await trainer.readLoss();
  const grads = new Map<string, Float32Array>();
  for (const p of params) grads.set(p.key, await rt.read(p.grad));
  return { loss, grads };
}

describe('gradient accumulation in the Trainer', () => {
  for (const kind of ['lora', 'full'] as const) {
    it(`${kind}: k micro-batches of a batch give the whole batch's gradient and its mean loss`, async () => {
      const rt = gpu();
      const c = await loadCase('llama-lora-qv');
      const model = new Transformer(rt, c.model.config, c.model.weights);
      // The fixture's LoRA has B ≠ 0, so A and B both get gradients; no dropout, so the masks cannot differ.
      const adapter: Adapter | null =
        kind === 'lora' ? loadAdapter(rt, model, { ...c.adapter.spec, dropout: 0 }, c.adapter.tensors, 'fixture') : null;
      const target = adapter ?? new FullRankTarget(rt, model);
      const params = adapter ? adapter.parameters() : (target as FullRankTarget).params;
      const trainer = new Trainer(rt, model, target, trainHyper(1e-2, { maxGradNorm: 0 }));
      const whole = batchOf(c.model.config.vocabSize);
      const full = uploadBatch(rt, whole);
      const halves = [rowsOf(whole, 0, 2), rowsOf(whole, 2, 4)].map((b) => uploadBatch(rt, b));
      const rows = [0, 1, 2, 3].map((r) => uploadBatch(rt, rowsOf(whole, r, r + 1)));
      const noTargets = uploadBatch(rt, { ...rowsOf(whole, 0, 1), labels: new Int32Array(SEQ).fill(IGNORE_INDEX) });
      try {
        const expected = await gradients(rt, trainer, params, full);
        // The loss is the mean over every target token: the micro-batches' losses weighted by their targets.
        let weighted = 0;
        for (const b of rows) weighted += (await evaluateLoss(rt, model, adapter, b)) * b.targetCount;
        expect(new Set(rows.map((b) => b.targetCount)).size).toBeGreaterThan(1);
        expect(Math.abs(expected.loss - weighted / full.targetCount)).toBeLessThan(1e-5 * expected.loss);
        for (const micro of [halves, rows, [noTargets, ...halves]]) {
          const got = await gradients(rt, trainer, params, micro);
          expect(Math.abs(got.loss - expected.loss)).toBeLessThan(1e-5 * expected.loss);
          for (const [key, g] of expected.grads)
            expect(relErr(got.grads.get(key)!, g), `${micro.length} micro-batches: ${key}`).toBeLessThan(1e-5);
        }
        expect(() => trainer.recordGradients([noTargets, noTargets])).toThrow(EmptyBatchError);
        // One optimizer step over the micro-batches moves the weights as the whole batch's step does.
        const before = new Map<string, Float32Array>();
        for (const p of params) before.set(p.key, await rt.read(p.value));
        const stepLoss = await trainer.trainStep(full);
        const afterWhole = new Map<string, Float32Array>();
        for (const p of params) {
          afterWhole.set(p.key, await rt.read(p.value));
          rt.upload(p.value, before.get(p.key)!);
        }
        const other = new Trainer(rt, model, target, trainHyper(1e-2, { maxGradNorm: 0 }));
        expect(Math.abs((await other.trainStep(rows)) - stepLoss)).toBeLessThan(1e-5 * stepLoss);
        for (const p of params) expect(relErr(await rt.read(p.value), afterWhole.get(p.key)!), p.key).toBeLessThan(1e-5);
        other.destroy();
      } finally {
        for (const b of [full, ...halves, ...rows, noTargets]) releaseBatch(rt, b);
        trainer.destroy();
        adapter?.destroy(rt);
        if (!adapter) (target as FullRankTarget).destroy();
        model.destroy();
      }
    });
  }
});
