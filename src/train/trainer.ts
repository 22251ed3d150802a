import type { Adapter, TrainableParam } from '../model/adapter';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { type AdamWHyper, adamwStep, gradNormScale } from '../kernels/optimizer';
import { magnitudeThreshold, pruneBelow, pruneRandom } from '../kernels/prune';
import type { Transformer } from '../model/transformer';
import type { DeviceBatch } from './device-batch';
import { adapterTarget, isTrainingTarget, type TrainingTarget } from './target';
import { EmptyBatchError, recordLoss } from './step';

export interface TrainHyper extends AdamWHyper {
  /** Clip the global gradient norm to this value; 0 disables clipping. */
  readonly maxGradNorm: number;
  readonly seed: number;
}

interface OptimizerState {
  readonly param: TrainableParam;
  readonly m: Tensor;
  readonly v: Tensor;
}

/**
 * What a Trainer carries from step to step, on the CPU: the optimizer steps taken (AdamW's bias
 * correction, and with the seed the dropout masks of every later step) and each parameter's moments.
 */
export interface TrainerState {
  readonly step: number;
  readonly seed: number;
  readonly moments: ReadonlyMap<string, { readonly shape: readonly number[]; readonly m: Float32Array; readonly v: Float32Array }>;
}

/**
 * Trains a target (an adapter, or the base weights for full rank) with AdamW and global-norm
 * clipping, everything on the GPU; only the loss is read back. One optimizer step takes one batch
 * or several micro-batches whose gradients accumulate (recordGradients).
 */
export class Trainer {
  private readonly state: OptimizerState[];
  private readonly partials: Tensor;
  private readonly gscale: Tensor;
  /** One slot per micro-batch of the last step (grown when a step has more). */
  private lossOut: Tensor;
  private lossSlots = 1;
  /** Optimizer steps taken so far. */
  step = 0;

  private readonly target: TrainingTarget;

  constructor(
    private readonly rt: GpuRuntime,
    private readonly model: Transformer,
    target: Adapter | TrainingTarget,
    private readonly hyper: TrainHyper,
  ) {
    this.target = isTrainingTarget(target) ? target : adapterTarget(target);
    this.state = this.target.params.map((param) => ({
      param,
      m: rt.zeros(param.value.shape, `${param.key}.exp_avg`),
      v: rt.zeros(param.value.shape, `${param.key}.exp_avg_sq`),
    }));
    this.partials = rt.zeros([Math.max(1, this.state.length)], 'grad_norm_partials');
    this.gscale = rt.tensor([2], 'grad_scale', new Float32Array([1, 0]));
    this.lossOut = rt.zeros([4], 'loss');
  }

  /**
   * Zeroes the gradients and records forward + backward of every micro-batch into them (gradient
   * accumulation): each adds its part scaled by 1 / (target tokens of all of them), so the
   * gradients are those of the mean over every target token, as one batch holding them all would
   * give. Micro-batch i has dropout seed (step seed + i); one without targets adds nothing; none
   * with a target is an EmptyBatchError. The loss of the step lands in the loss slots (readLoss).
   */
  recordGradients(batches: DeviceBatch | readonly DeviceBatch[]): void {
    const micro: readonly DeviceBatch[] = Array.isArray(batches) ? batches : [batches as DeviceBatch];
    const allTargets = micro.reduce((n, b) => n + b.targetCount, 0);
    if (allTargets === 0) throw new EmptyBatchError();
    this.lossSlots = Math.max(1, micro.length);
    if (this.lossSlots > this.lossOut.numel) {
      this.rt.release(this.lossOut);
      this.lossOut = this.rt.zeros([this.lossSlots], 'loss');
    }
    this.rt.clear(this.lossOut);
    for (const s of this.state) this.rt.clear(s.param.grad);
    const seed = this.dropoutSeed();
    micro.forEach((b, slot) => {
      if (b.targetCount === 0) return;
      recordLoss(
        this.rt,
        this.model,
        this.target.adapter,
        { ...b, targetCount: allTargets },
        { training: true, seed: seed + slot },
        {
          withGrad: true,
          lossOut: this.lossOut,
          slot,
          baseGrads: this.target.baseGrads,
        },
      );
    });
  }

  /**
   * Records one optimizer step over `batches` (its micro-batches) and submits it with the read of
   * its loss: the mean over every target token, before the update. Nothing is awaited before it
   * returns, so the next step can be recorded while this one's loss is on its way back.
   */
  issueStep(batches: DeviceBatch | readonly DeviceBatch[], lr = this.hyper.lr): Promise<number> {
    this.recordGradients(batches);
    this.recordUpdate(lr);
    return this.readLoss();
  }

  /** One optimizer step (one batch, or several micro-batches accumulated); returns the loss before the update. */
  trainStep(batches: DeviceBatch | readonly DeviceBatch[], lr = this.hyper.lr): Promise<number> {
    return this.issueStep(batches, lr);
  }

  /**
   * The loss of the gradients recorded last: the sum of the micro-batches' slots (each is its
   * share of the mean). read() records the copy and submits before its first await, so the copy
   * is queued ahead of any step recorded after this call.
   */
  readLoss(): Promise<number> {
    return this.rt.read(this.lossOut, this.lossSlots).then((slots) => slots.reduce((sum, l) => sum + l, 0));
  }

  /** Clipping factor and AdamW for every parameter, recorded after the gradients. */
  recordUpdate(lr: number): void {
    this.step++;
    const grads = this.state.map((s) => s.param.grad);
    gradNormScale(this.rt, grads, this.partials, this.gscale, this.hyper.maxGradNorm);
    const h = { ...this.hyper, lr };
    for (const s of this.state) adamwStep(this.rt, s.param.value, s.param.grad, s.m, s.v, this.gscale, h, this.step);
  }

  /**
   * Prunes the AdamW moments of the given parameters (ReLoRA's optimizer reset): 'random' zeroes
   * each element with probability `ratio`, 'magnitude' the `ratio` fraction of smallest |value|.
   * The step count (bias correction) carries on, as in the reference.
   */
  async pruneOptimizerState(keys: ReadonlySet<string>, mode: 'random' | 'magnitude', ratio: number, seed: number): Promise<void> {
    let n = 0;
    for (const s of this.state) {
      if (!keys.has(s.param.key)) continue;
      // One random mask for both moments: an element that kept m but lost v would step by
      // about lr·m̂/eps on its next update (A's gradient is exactly 0 while B = 0).
      const tensorSeed = seed + n++;
      for (const moment of [s.m, s.v]) {
        if (mode === 'random') pruneRandom(this.rt, moment, ratio, tensorSeed);
        else pruneBelow(this.rt, moment, magnitudeThreshold(await this.rt.read(moment), ratio));
      }
    }
  }

  /** The AdamW moments of one parameter (tests and analysis read them). */
  moments(key: string): { m: Tensor; v: Tensor } | undefined {
    return this.state.find((s) => s.param.key === key);
  }

  /** The optimizer state read back (for a checkpoint); the parameters themselves are the target's. */
  async snapshot(): Promise<TrainerState> {
    const moments = new Map<string, { shape: readonly number[]; m: Float32Array; v: Float32Array }>();
    for (const s of this.state)
      moments.set(s.param.key, { shape: s.param.value.shape, m: await this.rt.read(s.m), v: await this.rt.read(s.v) });
    return { step: this.step, seed: this.hyper.seed, moments };
  }

  /**
   * Puts a snapshot's moments and step count back, so the next step is the one the snapshot's
   * trainer would have taken. Refuses a snapshot of other parameters or another seed (its dropout
   * masks would differ).
   */
  restore(state: TrainerState): void {
    if (state.seed !== this.hyper.seed) throw new Error(`the optimizer state was saved with seed ${state.seed}, not ${this.hyper.seed}`);
    const keys = this.state.map((s) => s.param.key);
    if (state.moments.size !== keys.length || keys.some((k) => !state.moments.has(k)))
      throw new Error(`the optimizer state holds other parameters (${[...state.moments.keys()].join(', ')}) than this run trains`);
    for (const s of this.state) {
      const saved = state.moments.get(s.param.key)!;
      this.rt.upload(s.m, saved.m);
      this.rt.upload(s.v, saved.v);
    }
    this.step = state.step;
  }

  private dropoutSeed(): number {
    return (Math.imul(this.hyper.seed + 1, 0x9e3779b1) + this.step * 0x85ebca77) >>> 0;
  }

  destroy(): void {
    for (const s of this.state) this.rt.release(s.m, s.v);
    this.rt.release(this.partials, this.gscale, this.lossOut);
  }
}

/** Mean loss of a batch without gradients (evaluation). */
export async function evaluateLoss(rt: GpuRuntime, model: Transformer, adapter: Adapter | null, batch: DeviceBatch): Promise<number> {
  const lossOut = rt.tensor([1], 'eval_loss');
  recordLoss(rt, model, adapter, batch, { training: false, seed: 0 }, { withGrad: false, lossOut });
  const [loss] = await rt.read(lossOut);
  rt.release(lossOut);
  return loss!;
}
