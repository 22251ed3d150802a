/**
 * A ReLoRA run inside the worker: the engine's ReloraRun (full-rank warm start, then LoRA on every
 * linear with merge-and-reinit every `resetEvery` steps, under its own jagged cosine lr) driven one
 * micro-batch per step, with the same progress, validation, pause/resume/stop as TrainingRun.
 * It trains its own Transformer (ReLoRA merges into the weights), so the loaded model stays as it was.
 */
import { RunControl } from './run-control';
import { heldOutLoss, postKernelProfile, studioHyper, type RunInputs } from './training-run';
import { ReloraRun } from '../train/relora';
import { BatchSampler, toTokenBatch } from '../data/batches';
import { releaseBatch, uploadBatch } from '../train/device-batch';
import { reloraSettingsOf } from './relora-settings';

/** What a ReLoRA run needs: a standard run's inputs without an adapter (ReLoRA makes its own). The
 * model is a copy of the loaded one, since ReLoRA merges into its weights. */
export type ReloraInputs = Omit<RunInputs, 'adapter'>;

export class ReloraTrainingRun {
  readonly totalSteps: number;
  private readonly engine: ReloraRun;
  private readonly sampler: BatchSampler;
  /** Pause, resume and stop, taking effect between optimizer steps. */
  readonly control: RunControl;

  constructor(private readonly io: ReloraInputs) {
    this.control = new RunControl(io.post);
    const s = io.settings;
    this.totalSteps = s.steps;
    io.model.recomputeLayers = s.gradientCheckpointing;
    this.engine = new ReloraRun(io.rt, io.model, reloraSettingsOf(s), studioHyper(s));
    this.sampler = new BatchSampler(io.train, s.batchSize, s.seed);
  }

  /**
   * Trains, then merges the last low-rank update into the model and returns its weights under
   * HF keys (the model then holds everything and needs no adapter to generate).
   */
  async run(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const { rt, post, settings, padId } = this.io;
    const started = performance.now();
    let pausedMs = 0;
    let tokens = 0;
    try {
      for (let step = 0; step < this.totalSteps && !this.control.stopped; step++) {
        if (this.control.paused) {
          pausedMs += await this.control.waitWhilePaused(step, 'user', 'Paused.');
          if (this.control.stopped) break;
        }
        const batch = uploadBatch(rt, toTokenBatch(this.sampler.next(), settings.seqLen, padId));
        const r = await this.engine.trainStep(batch);
        tokens += batch.B * batch.S;
        releaseBatch(rt, batch);
        const elapsedMs = performance.now() - started - pausedMs;
        post({
          type: 'train-step',
          step: step + 1,
          totalSteps: this.totalSteps,
          loss: r.loss,
          lr: r.lr,
          tokensPerSecond: tokens / Math.max(elapsedMs / 1000, 1e-3),
          elapsedMs,
          epoch: this.sampler.epoch,
          relora: { phase: r.phase, reset: r.reset },
        });
        pausedMs += await this.control.pauseOnNonFinite(r.loss, step + 1);
        const last = step + 1 === this.totalSteps || this.control.stopped;
        if ((step + 1) % settings.evalEvery === 0 || last) await this.reportValidation(step + 1);
      }
      return await this.engine.exportMergedWeights();
    } finally {
      this.engine.destroy();
    }
  }

  get stepsDone(): number {
    return this.engine.step;
  }

  get wasStopped(): boolean {
    return this.control.stopped;
  }

  private async reportValidation(step: number): Promise<void> {
    const { rt, model, settings, padId, val } = this.io;
    await postKernelProfile(rt, step, this.io.post);
    const loss = await rt.unprofiled(() => heldOutLoss(rt, model, this.engine.currentAdapter, val, settings.seqLen, padId));
    if (loss !== null) this.io.post({ type: 'val-loss', step, loss });
  }
}
