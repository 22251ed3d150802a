/**
 * One training run inside the worker: the Trainer's AdamW steps (with gradient accumulation), the LR schedule,
 * validation loss and update statistics every `evalEvery` steps, and pause/resume/stop that
 * take effect between optimizer steps: the step running at the click and the one already queued
 * behind it (see run()) finish, and nothing after them starts.
 */
import { RunControl } from './run-control';
import type { Adapter } from '../adapters/types';
import { BatchSampler, toTokenBatch } from '../data/batches';
import type { TokenSequence } from '../data/tokenize';
import { learningRateAt, type LrSchedule } from '../train/schedule';
import { weightUpdateStats } from '../kernels/update-stats';
import type { GpuRuntime } from '../gpu/runtime';
import type { Transformer } from '../model/transformer';
import { releaseBatch, uploadBatch, type DeviceBatch } from '../train/device-batch';
import { trainHyper } from '../train/defaults';
import { evaluateLoss, Trainer, type TrainHyper } from '../train/trainer';
import type { ModuleUpdateStats, StudioEvent, TrainSettings } from './protocol';

export interface RunInputs {
  readonly rt: GpuRuntime;
  readonly model: Transformer;
  readonly adapter: Adapter;
  readonly settings: TrainSettings;
  readonly train: readonly TokenSequence[];
  readonly val: readonly TokenSequence[];
  readonly padId: number;
  readonly post: (event: StudioEvent) => void;
}

/** The optimizer settings of a studio run: its lr, weight decay, clipping and seed, the defaults for the rest. */
export function studioHyper(s: TrainSettings): TrainHyper {
  return trainHyper(s.lr, { weightDecay: s.weightDecay, maxGradNorm: s.maxGradNorm, seed: s.seed });
}

/** Validation loss is taken on at most this many held-out sequences (SwiftShader is slow). */
export const MAX_VAL_SEQUENCES = 32;

export function totalStepsFor(settings: TrainSettings, trainSequences: number): number {
  if (settings.durationUnit === 'steps') return settings.steps;
  const perEpoch = Math.ceil(trainSequences / (settings.batchSize * settings.gradAccum));
  return Math.max(1, perEpoch * settings.epochs);
}

/**
 * Validation loss as the studio reports it: the first MAX_VAL_SEQUENCES held-out sequences,
 * padded to the training length; null when there is nothing to score.
 */
export async function heldOutLoss(
  rt: GpuRuntime,
  model: Transformer,
  adapter: Adapter | null,
  val: readonly TokenSequence[],
  seqLen: number,
  padId: number,
): Promise<number | null> {
  const sequences = val.slice(0, MAX_VAL_SEQUENCES);
  if (sequences.length === 0) return null;
  const batch = uploadBatch(rt, toTokenBatch(sequences, seqLen, padId));
  try {
    return batch.targetCount === 0 ? null : await evaluateLoss(rt, model, adapter, batch);
  } finally {
    releaseBatch(rt, batch);
  }
}

/** With `?profile`: the kernel times of the training steps so far. */
export async function postKernelProfile(rt: GpuRuntime, step: number, post: (event: StudioEvent) => void): Promise<void> {
  if (rt.profiler) post({ type: 'kernel-profile', step, kernels: await rt.profiler.report() });
}

/** An optimizer step recorded and submitted, whose loss is still on its way back. */
interface IssuedStep {
  readonly step: number;
  readonly lr: number;
  readonly loss: Promise<number>;
  readonly tokenCount: number;
  readonly epoch: number;
}

export class TrainingRun {
  readonly totalSteps: number;
  private readonly trainer: Trainer;
  private readonly sampler: BatchSampler;
  private readonly schedule: LrSchedule;
  /** Pause, resume and stop, taking effect between optimizer steps. */
  readonly control: RunControl;
  private started = 0;
  private pausedMs = 0;
  private tokens = 0;

  constructor(private readonly io: RunInputs) {
    this.control = new RunControl(io.post);
    const s = io.settings;
    this.totalSteps = totalStepsFor(s, io.train.length);
    this.trainer = new Trainer(io.rt, io.model, io.adapter, studioHyper(s));
    this.sampler = new BatchSampler(io.train, s.batchSize, s.seed);
    this.schedule = { kind: s.schedule, peakLr: s.lr, warmupSteps: s.warmupSteps, totalSteps: this.totalSteps };
  }

  async run(): Promise<void> {
    const { post } = this.io;
    this.started = performance.now();
    // The loss of step n is read while step n + 1 runs: the GPU always has the next step queued
    // instead of idling while the page waits for one float. Steps that report (validation,
    // update statistics) and pauses wait for their own step, so what they show is that step's.
    let inFlight: IssuedStep | null = null;
    for (let step = 0; step < this.totalSteps && !this.control.stopped; step++) {
      if (this.control.paused) {
        if (inFlight) await this.complete(inFlight);
        inFlight = null;
        this.pausedMs += await this.control.waitWhilePaused(step, 'user', 'Paused.');
        if (this.control.stopped) break;
      }
      const issued = this.issueStep(step, learningRateAt(this.schedule, step));
      if (inFlight) await this.complete(inFlight);
      inFlight = issued;
      const done = step + 1;
      if (done % this.io.settings.evalEvery === 0 || done === this.totalSteps || this.control.stopped || this.control.paused) {
        await this.complete(inFlight);
        inFlight = null;
        if (done % this.io.settings.evalEvery === 0 || done === this.totalSteps || this.control.stopped) await this.report(done);
      }
    }
    if (inFlight) await this.complete(inFlight);
    this.trainer.destroy();
    post({ type: 'train-finished', step: this.trainer.step, reason: this.control.stopped ? 'stopped' : 'completed' });
  }

  /**
   * Records one optimizer step over `gradAccum` micro-batches (the Trainer accumulates their
   * gradients) and submits it with the read of its loss; nothing is awaited.
   */
  private issueStep(step: number, lr: number): IssuedStep {
    const { rt, settings, padId } = this.io;
    const micro: DeviceBatch[] = [];
    for (let i = 0; i < settings.gradAccum; i++) micro.push(uploadBatch(rt, toTokenBatch(this.sampler.next(), settings.seqLen, padId)));
    const loss = this.trainer.issueStep(micro, lr);
    const tokenCount = micro.reduce((n, b) => n + b.B * b.S, 0);
    // Released buffers are reused only by work queued after this step's.
    for (const b of micro) releaseBatch(rt, b);
    return { step, lr, loss, tokenCount, epoch: this.sampler.epoch };
  }

  /** Waits for an issued step's loss, posts its progress, and pauses on a non-finite loss. */
  private async complete(issued: IssuedStep): Promise<void> {
    const loss = await issued.loss;
    this.tokens += issued.tokenCount;
    const elapsedMs = performance.now() - this.started - this.pausedMs;
    this.io.post({
      type: 'train-step',
      step: issued.step + 1,
      totalSteps: this.totalSteps,
      loss,
      lr: issued.lr,
      tokensPerSecond: this.tokens / Math.max(elapsedMs / 1000, 1e-3),
      elapsedMs,
      epoch: issued.epoch,
    });
    this.pausedMs += await this.control.pauseOnNonFinite(loss, issued.step + 1);
  }

  private async report(step: number): Promise<void> {
    await postKernelProfile(this.io.rt, step, this.io.post);
    await this.io.rt.unprofiled(async () => {
      const valLoss = await this.validationLoss();
      if (valLoss !== null) this.io.post({ type: 'val-loss', step, loss: valLoss });
      this.io.post({
        type: 'update-stats',
        step,
        modules: await moduleUpdateStats(this.io),
        vectors: await this.io.adapter.layerVectors(this.io.rt),
      });
    });
  }

  private validationLoss(): Promise<number | null> {
    const { rt, model, adapter, settings, padId, val } = this.io;
    return heldOutLoss(rt, model, adapter, val, settings.seqLen, padId);
  }
}

/** ΔM and ΔD of every adapted layer (ΔW from the adapter, the statistics on the GPU). */
export async function moduleUpdateStats(io: { rt: GpuRuntime; model: Transformer; adapter: Adapter }): Promise<ModuleUpdateStats[]> {
  const out: ModuleUpdateStats[] = [];
  for (const modulePath of io.adapter.modulePaths) {
    const layer = io.adapter.layerFor(modulePath)!;
    const base = io.model.linear(modulePath);
    const delta = await layer.deltaWeight(io.rt);
    const stats = await weightUpdateStats(io.rt, base.weight, delta, base);
    out.push({ modulePath, name: base.name, layer: layerIndexOf(modulePath), ...stats });
  }
  return out;
}

function layerIndexOf(modulePath: string): number {
  const m = /\.(?:layers|h)\.(\d+)\./.exec(modulePath);
  return m ? Number(m[1]) : 0;
}
