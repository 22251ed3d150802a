import type { Adapter, TrainableParam } from '../model/adapter';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { type AdamWHyper, adamwStep, gradNormScale } from '../kernels/optimizer';
import { magnitudeThreshold, pruneBelow, pruneRandom } from '../kernels/prune';
import type { Transformer } from '../model/transformer';
import type { DeviceBatch } from './device-batch';
import { adapterTarget, isTrainingTarget, type TrainingTarget } from './target';
import { recordLoss } from './step';

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

/** Trains an adapter with AdamW, everything on the GPU; only the loss is read back. */
export class Trainer {
  private readonly state: OptimizerState[];
  private readonly partials: Tensor;
  private readonly gscale: Tensor;
  private readonly lossOut: Tensor;
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

  /** Zeroes gradients and records forward + backward; gradients are left in each param.grad. */
  recordGradients(batch: DeviceBatch): void {
    for (const s of this.state) this.rt.clear(s.param.grad);
    recordLoss(this.rt, this.model, this.target.adapter, batch, { training: true, seed: this.dropoutSeed() }, {
      withGrad: true, lossOut: this.lossOut, baseGrads: this.target.baseGrads,
    });
  }

  /** One optimizer step on one batch; returns the loss before the update. */
  async trainStep(batch: DeviceBatch, lr = this.hyper.lr): Promise<number> {
    this.recordGradients(batch);
    this.recordUpdate(lr);
    const [loss] = await this.rt.read(this.lossOut, 1);
    return loss;
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

  /** The global gradient norm of the last step (before clipping). */
  async lastGradNorm(): Promise<number> {
    return (await this.rt.read(this.gscale))[1];
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
export async function evaluateLoss(
  rt: GpuRuntime, model: Transformer, adapter: Adapter | null, batch: DeviceBatch,
): Promise<number> {
  const lossOut = rt.tensor([1], 'eval_loss');
  recordLoss(rt, model, adapter, batch, { training: false, seed: 0 }, { withGrad: false, lossOut });
  const [loss] = await rt.read(lossOut);
  rt.release(lossOut);
  return loss;
}
