import { describe, expect, it } from 'vitest';
import { createAdapter } from '../../src/adapters/load';
import { seededRandom } from '../../src/adapters/init';
import type { TokenSequence } from '../../src/data/tokenize';
import { adapterSpecFor } from '../../src/train/adapter-spec';
import { Transformer } from '../../src/model/transformer';
import { DEFAULT_SETTINGS } from '../../src/ui/store/settings-slice';
import type { StudioEvent, TrainSettings } from '../../src/worker/protocol';
import { TrainingRun } from '../../src/worker/training-run';
import { useGpu } from '../helpers/gpu';
import { loadCase } from './fixtures';

const gpu = useGpu();

function sequences(count: number, length: number, vocab: number, seed: number): TokenSequence[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const ids = Array.from({ length }, () => Math.floor(random() * vocab));
    return { ids, labels: ids };
  });
}

/** The events of one studio training run of a LoRA on the fixture model. */
async function runEvents(settings: TrainSettings, seen: { recomputeLayers?: boolean } = {}): Promise<StudioEvent[]> {
  const rt = gpu();
  const c = await loadCase('llama-lora-qv');
  const model = new Transformer(rt, c.model.config, c.model.weights);
  const adapter = await createAdapter(rt, model, adapterSpecFor({ ...settings, method: 'lora' }, c.model.config), settings.seed);
  const vocab = c.model.config.vocabSize;
  const events: StudioEvent[] = [];
  const run = new TrainingRun({
    rt,
    model,
    adapter,
    settings,
    train: sequences(12, 8, vocab, 1),
    val: sequences(3, 8, vocab, 2),
    padId: 0,
    post: (e) => events.push(e),
  });
  await run.run();
  seen.recomputeLayers = model.recomputeLayers;
  adapter.destroy(rt);
  model.destroy();
  return events;
}

const steps = (events: StudioEvent[]) => events.flatMap((e) => (e.type === 'train-step' ? [e] : []));

describe('TrainingRun reads each loss back while the next step runs', () => {
  const settings: TrainSettings = {
    ...DEFAULT_SETTINGS,
    targets: ['q_proj', 'v_proj'],
    rank: 2,
    alpha: 4,
    steps: 7,
    batchSize: 2,
    gradAccum: 2,
    seqLen: 8,
    lr: 5e-2,
  };

  it('posts every step once, in order, each validation after its own step, with the losses of a run that waits on every step', async () => {
    const pipelined = await runEvents({ ...settings, evalEvery: 3 });
    // evalEvery 1 completes every step before the next is issued: nothing overlaps.
    const serial = await runEvents({ ...settings, evalEvery: 1 });
    const order = pipelined.filter((e) => e.type === 'train-step' || e.type === 'val-loss').map((e) => `${e.type}@${e.step}`);
    expect(order).toEqual([
      'train-step@1',
      'train-step@2',
      'train-step@3',
      'val-loss@3',
      'train-step@4',
      'train-step@5',
      'train-step@6',
      'val-loss@6',
      'train-step@7',
      'val-loss@7',
    ]);
    expect(steps(pipelined).map((e) => e.loss)).toEqual(steps(serial).map((e) => e.loss));
    const valAt = (events: StudioEvent[], step: number) => events.find((e) => e.type === 'val-loss' && e.step === step);
    expect(valAt(pipelined, 6)).toEqual(valAt(serial, 6));
    // The loss falls on this repeated data, so a step that read another step's slots would show.
    const losses = steps(pipelined).map((e) => e.loss);
    expect(new Set(losses).size).toBe(losses.length);
    expect(pipelined.at(-1)).toMatchObject({ type: 'train-finished', step: 7, reason: 'completed' });
  });

  it('the gradient-checkpointing setting recomputes the layers and changes no loss, with dropout on', async () => {
    const withDropout = { ...settings, dropout: 0.1, evalEvery: 3 };
    const seen: { recomputeLayers?: boolean } = {};
    const plain = await runEvents(withDropout, seen);
    expect(seen.recomputeLayers).toBe(false);
    const recomputed = await runEvents({ ...withDropout, gradientCheckpointing: true }, seen);
    expect(seen.recomputeLayers).toBe(true);
    expect(steps(recomputed).map((e) => e.loss)).toEqual(steps(plain).map((e) => e.loss));
  });
});
