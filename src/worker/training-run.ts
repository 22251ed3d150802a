/**
 * One training run inside the worker: the Trainer's AdamW steps (with gradient accumulation), the LR schedule,
 * validation loss and update statistics every `evalEvery` steps, and pause/resume/stop that
 * take effect between optimizer steps: the step running at the click and the one already queued
 * behind it (see run()) finish, and nothing after them starts. With `checkpoints` it hands its
 * whole state to a sink every N steps, on pause, on stop and at the end; with `resume` it starts
 * from such a state, taking the very steps the saved run would have taken.
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
import { evaluateLoss, Trainer, type TrainerState, type TrainHyper } from '../train/trainer';
import type { DataOrder } from '../train/checkpoint';
import type { ModuleUpdateStats, RunHistory, StudioEvent, TrainSettings } from './protocol';

/** What a run has done so far besides its tensors: kept with each checkpoint so a resumed run carries on its charts and counters. */
export interface RunProgress {
  readonly history: RunHistory;
  readonly tokens: number;
  readonly elapsedMs: number;
}

/** A run's whole state after `step` optimizer steps (what a checkpoint holds). */
export interface RunSnapshot {
  readonly step: number;
  readonly adapter: Map<string, { shape: number[]; data: Float32Array }>;
  readonly trainer: TrainerState;
  readonly dataOrder: DataOrder;
  readonly progress: RunProgress;
}

/** Where a resumed run starts: a snapshot's trainer state, data order and progress (its adapter is already loaded). */
export type ResumePoint = Pick<RunSnapshot, 'trainer' | 'dataOrder' | 'progress'>;

export interface CheckpointSink {
  /** Steps between checkpoints (0: none; then there are none on pause, stop or at the end either). */
  readonly every: number;
  /** Stores the snapshot; a failure is the sink's to report (the run goes on). */
  save(snapshot: RunSnapshot): Promise<void>;
}

export interface RunInputs {
  readonly rt: GpuRuntime;
  readonly model: Transformer;
  readonly adapter: Adapter;
  readonly settings: TrainSettings;
  readonly train: readonly TokenSequence[];
  readonly val: readonly TokenSequence[];
  readonly padId: number;
  readonly post: (event: StudioEvent) => void;
  readonly checkpoints?: CheckpointSink;
  readonly resume?: ResumePoint;
  /**
   * Rejects when the GPU device is lost. Every wait of the run races it: the reads of a lost
   * device may never settle, and the run must end (and say why) rather than hang.
   */
  readonly deviceLost?: Promise<never>;
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
  /** Training time before this run started (a resumed run's saved time). */
  private elapsedBefore = 0;
  /** Micro-batches drawn from the sampler (its position, for checkpoints). */
  private drawn = 0;
  private readonly history: { losses: number[]; lrs: number[]; valSteps: number[]; valLosses: number[] };
  /** The step of the last checkpoint (none twice at one step); -1 before any. */
  private savedAt = -1;
  private lastLossFinite = true;
  private lost: Error | null = null;

  constructor(private readonly io: RunInputs) {
    this.control = new RunControl(io.post);
    const s = io.settings;
    this.totalSteps = totalStepsFor(s, io.train.length);
    io.model.recomputeLayers = s.gradientCheckpointing;
    this.trainer = new Trainer(io.rt, io.model, io.adapter, studioHyper(s));
    this.sampler = new BatchSampler(io.train, s.batchSize, s.seed);
    this.schedule = { kind: s.schedule, peakLr: s.lr, warmupSteps: s.warmupSteps, totalSteps: this.totalSteps };
    const h = io.resume?.progress.history;
    this.history = {
      losses: [...(h?.losses ?? [])],
      lrs: [...(h?.lrs ?? [])],
      valSteps: [...(h?.valSteps ?? [])],
      valLosses: [...(h?.valLosses ?? [])],
    };
    io.deviceLost?.catch((e: Error) => {
      this.lost = e;
      this.control.stop();
    });
    if (io.resume) this.restore(io.resume);
  }

  /** Optimizer steps whose loss came back (a resumed run counts its checkpoint's). */
  get stepsDone(): number {
    return this.history.losses.length;
  }

  /** The first step this run takes (after a resume, the one after the checkpoint). */
  get firstStep(): number {
    return this.io.resume?.trainer.step ?? 0;
  }

  /**
   * Puts the trainer and the sampler where the snapshot left them. The sampler replays its draws:
   * its shuffles depend only on the seed and the epoch, so the same draws reach the same place.
   */
  private restore(r: ResumePoint): void {
    this.trainer.restore(r.trainer);
    for (let i = 0; i < r.dataOrder.drawn; i++) this.sampler.next();
    this.drawn = r.dataOrder.drawn;
    if (this.sampler.epoch !== r.dataOrder.epoch)
      throw new Error(`the data order does not replay: epoch ${this.sampler.epoch} after ${this.drawn} batches, not ${r.dataOrder.epoch}`);
    this.tokens = r.progress.tokens;
    this.elapsedBefore = r.progress.elapsedMs;
    this.savedAt = r.trainer.step;
  }

  async run(): Promise<void> {
    const { post } = this.io;
    this.started = performance.now();
    // The loss of step n is read while step n + 1 runs: the GPU always has the next step queued
    // instead of idling while the page waits for one float. Steps that report (validation,
    // update statistics), checkpoints and pauses wait for their own step, so what they show or
    // save is that step's.
    let inFlight: IssuedStep | null = null;
    for (let step = this.firstStep; step < this.totalSteps && !this.control.stopped; step++) {
      if (this.control.paused) {
        if (inFlight) await this.complete(inFlight);
        inFlight = null;
        await this.checkpoint(step);
        this.pausedMs += await this.control.waitWhilePaused(step, 'user', 'Paused.');
        if (this.control.stopped) break;
      }
      const issued = this.issueStep(step, learningRateAt(this.schedule, step));
      if (inFlight) await this.complete(inFlight);
      inFlight = issued;
      const done = step + 1;
      const reportNow = done % this.io.settings.evalEvery === 0 || done === this.totalSteps || this.control.stopped;
      const saveNow = this.checkpointDue(done);
      if (reportNow || saveNow || this.control.paused) {
        await this.complete(inFlight);
        inFlight = null;
        if (reportNow) await this.guard(this.report(done));
        if (saveNow) await this.checkpoint(done);
      }
    }
    if (inFlight) await this.complete(inFlight);
    if (this.lost) throw this.lost;
    this.trainer.destroy();
    post({ type: 'train-finished', step: this.trainer.step, reason: this.control.stopped ? 'stopped' : 'completed' });
  }

  /** Every N steps, and (with checkpoints on) when the run stops or ends. */
  private checkpointDue(done: number): boolean {
    const every = this.io.checkpoints?.every ?? 0;
    return every > 0 && (done % every === 0 || done === this.totalSteps || this.control.stopped);
  }

  /**
   * Hands the state after `step` steps to the sink: the adapter's tensors, the trainer's moments,
   * the sampler's position and the progress. A step with a non-finite loss is not saved over the
   * last good checkpoint.
   */
  private async checkpoint(step: number): Promise<void> {
    const sink = this.io.checkpoints;
    if (!sink || sink.every <= 0 || step === this.savedAt || !this.lastLossFinite || this.lost) return;
    const snapshot = await this.guard(
      (async (): Promise<RunSnapshot> => ({
        step,
        adapter: await this.io.adapter.exportTensors(this.io.rt),
        trainer: await this.trainer.snapshot(),
        dataOrder: { drawn: this.drawn, epoch: this.sampler.epoch },
        progress: { history: structuredClone(this.history), tokens: this.tokens, elapsedMs: this.elapsed() },
      }))(),
    );
    this.savedAt = step;
    await sink.save(snapshot);
  }

  /** `p`, unless the device is lost first (then the run's DeviceLost error). */
  private guard<T>(p: Promise<T>): Promise<T> {
    return this.io.deviceLost ? Promise.race([p, this.io.deviceLost]) : p;
  }

  private elapsed(): number {
    return this.elapsedBefore + performance.now() - this.started - this.pausedMs;
  }

  /**
   * Records one optimizer step over `gradAccum` micro-batches (the Trainer accumulates their
   * gradients) and submits it with the read of its loss; nothing is awaited.
   */
  private issueStep(step: number, lr: number): IssuedStep {
    const { rt, settings, padId } = this.io;
    const micro: DeviceBatch[] = [];
    for (let i = 0; i < settings.gradAccum; i++) micro.push(uploadBatch(rt, toTokenBatch(this.sampler.next(), settings.seqLen, padId)));
    this.drawn += settings.gradAccum;
    const loss = this.trainer.issueStep(micro, lr);
    // A step issued on a device that is then lost may never be awaited: its rejection is expected.
    loss.catch(() => undefined);
    const tokenCount = micro.reduce((n, b) => n + b.B * b.S, 0);
    // Released buffers are reused only by work queued after this step's.
    for (const b of micro) releaseBatch(rt, b);
    return { step, lr, loss, tokenCount, epoch: this.sampler.epoch };
  }

  /** Waits for an issued step's loss, posts its progress, and pauses on a non-finite loss. */
  private async complete(issued: IssuedStep): Promise<void> {
    const loss = await this.guard(issued.loss);
    this.tokens += issued.tokenCount;
    this.history.losses.push(loss);
    this.history.lrs.push(issued.lr);
    this.lastLossFinite = Number.isFinite(loss);
    const elapsedMs = this.elapsed();
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
      if (valLoss !== null) {
        this.history.valSteps.push(step);
        this.history.valLosses.push(valLoss);
        this.io.post({ type: 'val-loss', step, loss: valLoss });
      }
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
