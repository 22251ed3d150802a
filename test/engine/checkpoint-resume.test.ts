import { describe, expect, it } from 'vitest';
import { createAdapter, loadAdapter } from '../../src/adapters/load';
import { seededRandom } from '../../src/adapters/init';
import type { Adapter } from '../../src/adapters/types';
import type { TokenSequence } from '../../src/data/tokenize';
import type { AdapterMethod } from '../../src/formats/peft';
import { writeSafetensors } from '../../src/formats/safetensors';
import { Transformer } from '../../src/model/transformer';
import { adapterSpecFor } from '../../src/train/adapter-spec';
import { CheckpointError, deserializeCheckpoint, serializeCheckpoint } from '../../src/train/checkpoint';
import { Trainer } from '../../src/train/trainer';
import { DEFAULT_SETTINGS } from '../../src/ui/store/settings-slice';
import type { StudioEvent, TrainSettings } from '../../src/worker/protocol';
import { type ResumePoint, type RunSnapshot, studioHyper, TrainingRun } from '../../src/worker/training-run';
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

const N = 8;
const K = 4;

/**
 * 12 sequences in micro-batches of 2, two a step: an epoch is 3 steps, so K = 4 stops inside the
 * second epoch (the sampler's reshuffled order and position must both come back). Dropout, a
 * warmup and a cosine schedule make every step depend on the RNG, the step count and the lr.
 */
const SETTINGS: TrainSettings = {
  ...DEFAULT_SETTINGS,
  targets: ['q_proj', 'v_proj'],
  rank: 2,
  alpha: 4,
  dropout: 0.1,
  steps: N,
  batchSize: 2,
  gradAccum: 2,
  seqLen: 8,
  lr: 5e-2,
  warmupSteps: 2,
  schedule: 'cosine',
  evalEvery: 3,
  seed: 7,
};

interface Setup {
  readonly model: Transformer;
  readonly train: TokenSequence[];
  readonly val: TokenSequence[];
  newAdapter(method: AdapterMethod): Promise<Adapter>;
}

async function setup(): Promise<Setup> {
  const rt = gpu();
  const c = await loadCase('llama-lora-qv');
  const model = new Transformer(rt, c.model.config, c.model.weights);
  const vocab = c.model.config.vocabSize;
  return {
    model,
    train: sequences(12, 8, vocab, 1),
    val: sequences(3, 8, vocab, 2),
    newAdapter: (method) => createAdapter(rt, model, adapterSpecFor({ ...SETTINGS, method }, c.model.config), SETTINGS.seed),
  };
}

interface RunResult {
  readonly events: StudioEvent[];
  readonly adapter: Map<string, { shape: number[]; data: Float32Array }>;
}

/** One studio run of `adapter`; `every` > 0 hands each snapshot to `onSnapshot` (which may stop the run). */
async function runOnce(
  s: Setup,
  adapter: Adapter,
  settings: TrainSettings,
  opts: { every?: number; onSnapshot?: (snap: RunSnapshot, run: TrainingRun) => void; resume?: ResumePoint } = {},
): Promise<RunResult> {
  const rt = gpu();
  const events: StudioEvent[] = [];
  const run: TrainingRun = new TrainingRun({
    rt,
    model: s.model,
    adapter,
    settings,
    train: s.train,
    val: s.val,
    padId: 0,
    post: (e) => events.push(e),
    resume: opts.resume,
    checkpoints: opts.every ? { every: opts.every, save: async (snap) => opts.onSnapshot?.(snap, run) } : undefined,
  });
  await run.run();
  const tensors = await adapter.exportTensors(rt);
  adapter.destroy(rt);
  return { events, adapter: tensors };
}

const losses = (events: StudioEvent[]) => events.flatMap((e) => (e.type === 'train-step' ? [e.loss] : []));
const stepNumbers = (events: StudioEvent[]) => events.flatMap((e) => (e.type === 'train-step' ? [e.step] : []));
const valLosses = (events: StudioEvent[]) => events.flatMap((e) => (e.type === 'val-loss' ? [[e.step, e.loss]] : []));

describe('a run resumed from its checkpoint takes the very steps of the run that was not interrupted', () => {
  for (const method of ['lora', 'dora', 'vera'] as const) {
    it(`${method}: ${K} steps, checkpoint to bytes, a fresh adapter and trainer from the bytes, ${N - K} more steps: identical losses and adapter`, async () => {
      const s = await setup();
      const settings = { ...SETTINGS, method, ...(method === 'vera' ? { lr: 0.1 } : {}) };
      const whole = await runOnce(s, await s.newAdapter(method), settings);

      // The interrupted run: stopped right after its checkpoint at step K, as a closed tab would leave it.
      let bytes: Uint8Array | null = null;
      const interrupted = await s.newAdapter(method);
      const first = await runOnce(s, interrupted, settings, {
        every: K,
        onSnapshot: (snap, run) => {
          const { adapter, trainer, dataOrder, progress } = snap;
          bytes = serializeCheckpoint({ spec: interrupted.spec, adapter, trainer, dataOrder, run: { progress } });
          run.control.stop();
        },
      });
      expect(stepNumbers(first.events)).toEqual([1, 2, 3, 4]);
      expect(bytes).not.toBeNull();

      // Everything from the bytes alone: the adapter's tensors, the optimizer, the data order, the progress.
      const c = deserializeCheckpoint<{ progress: RunSnapshot['progress'] }>(bytes!, 'checkpoint');
      expect(c.trainer.step).toBe(K);
      expect(c.dataOrder).toEqual({ drawn: K * settings.gradAccum, epoch: 1 });
      const restored = loadAdapter(gpu(), s.model, c.spec, c.adapter, 'checkpoint');
      const second = await runOnce(s, restored, settings, {
        resume: { trainer: c.trainer, dataOrder: c.dataOrder, progress: c.run.progress },
      });
      expect(stepNumbers(second.events)).toEqual([5, 6, 7, 8]);

      expect([...losses(first.events), ...losses(second.events)]).toEqual(losses(whole.events));
      expect(c.run.progress.history.losses).toEqual(losses(whole.events).slice(0, K));
      // Validation at steps 3 (before the checkpoint), 6 and 8 (after it).
      expect([...valLosses(first.events).slice(0, 1), ...valLosses(second.events)]).toEqual(valLosses(whole.events));
      expect(second.events.at(-1)).toMatchObject({ type: 'train-finished', step: N, reason: 'completed' });
      expect([...second.adapter.keys()].sort()).toEqual([...whole.adapter.keys()].sort());
      for (const [key, t] of whole.adapter) expect(second.adapter.get(key)!.data, key).toEqual(t.data);
      s.model.destroy();
    });
  }
});

describe('when a run saves', () => {
  it('on pause: the step the pause waits at, even between the N-step checkpoints', async () => {
    const s = await setup();
    const saved: number[] = [];
    let run: TrainingRun | null = null;
    const events: StudioEvent[] = [];
    const adapter = await s.newAdapter('lora');
    run = new TrainingRun({
      rt: gpu(),
      model: s.model,
      adapter,
      settings: SETTINGS,
      train: s.train,
      val: s.val,
      padId: 0,
      post: (e) => {
        events.push(e);
        if (e.type === 'train-step' && e.step === 2) run!.control.pause();
        if (e.type === 'train-paused') run!.control.stop();
      },
      checkpoints: { every: 100, save: async (snap) => void saved.push(snap.step, snap.trainer.step, snap.progress.history.losses.length) },
    });
    await run.run();
    // The step queued behind step 2 finishes; the pause (and its checkpoint) comes after it.
    const paused = events.find((e) => e.type === 'train-paused');
    expect(paused).toMatchObject({ step: 3 });
    expect(saved).toEqual([3, 3, 3]);
    adapter.destroy(gpu());
    s.model.destroy();
  });
});

describe('the checkpoint file', () => {
  async function someCheckpoint(): Promise<Uint8Array> {
    const s = await setup();
    const adapter = await s.newAdapter('lora');
    const trainer = new Trainer(gpu(), s.model, adapter, studioHyper(SETTINGS));
    const bytes = serializeCheckpoint({
      spec: adapter.spec,
      adapter: await adapter.exportTensors(gpu()),
      trainer: await trainer.snapshot(),
      dataOrder: { drawn: 0, epoch: 0 },
      run: { note: 'anything JSON' },
    });
    trainer.destroy();
    adapter.destroy(gpu());
    s.model.destroy();
    return bytes;
  }

  it('refuses a torn file, a changed byte and a safetensors file that is not a checkpoint', async () => {
    const bytes = await someCheckpoint();
    expect(deserializeCheckpoint(bytes, 'ok').run).toEqual({ note: 'anything JSON' });
    expect(() => deserializeCheckpoint(bytes.slice(0, bytes.length - 5), 'torn')).toThrow(/torn: not a readable checkpoint/);
    const flipped = bytes.slice();
    flipped[flipped.length - 3]! ^= 0x10;
    expect(() => deserializeCheckpoint(flipped, 'flipped')).toThrow(/do not match their checksum/);
    const plain = writeSafetensors([{ name: 'w', shape: [1], data: new Float32Array([1]) }]);
    expect(() => deserializeCheckpoint(plain, 'plain')).toThrow(CheckpointError);
  });

  it('a trainer refuses the optimizer state of another seed or of other parameters', async () => {
    const s = await setup();
    const adapter = await s.newAdapter('lora');
    const trainer = new Trainer(gpu(), s.model, adapter, studioHyper(SETTINGS));
    const state = await trainer.snapshot();
    const other = new Trainer(gpu(), s.model, adapter, studioHyper({ ...SETTINGS, seed: 8 }));
    expect(() => other.restore(state)).toThrow(/saved with seed 7, not 8/);
    const fewer = { ...state, moments: new Map([...state.moments].slice(1)) };
    expect(() => trainer.restore(fewer)).toThrow(/other parameters/);
    for (const t of [trainer, other]) t.destroy();
    adapter.destroy(gpu());
    s.model.destroy();
  });
});
