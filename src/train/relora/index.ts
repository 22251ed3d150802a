import { linearModules } from '../../formats/hf-config';
import type { AdapterSpec } from '../../formats/peft';
import type { GpuRuntime } from '../../gpu/runtime';
import type { Transformer } from '../../model/transformer';
import type { DeviceBatch } from '../device-batch';
import type { TrainingTarget } from '../target';
import { Trainer, type TrainHyper } from '../trainer';
import { FullRankTarget } from '../full-rank';
import { kaimingUniform, seededRandom } from '../../adapters/init';
import { lora, type LayeredAdapter } from '../../adapters/lora';
import type { LoraLayer } from '../../adapters/lora/layer';
import { jaggedCosine, type JaggedCosine } from './schedule';

/** Everything the ReLoRA reference exposes, as parameters. */
export interface ReloraSettings {
  readonly rank: number;
  readonly alpha: number;
  /** Total optimizer steps, warm start included. */
  readonly totalSteps: number;
  /** Full-rank steps before LoRA takes over. */
  readonly warmStartSteps: number;
  /** LoRA steps between merge-and-reinit resets. */
  readonly resetEvery: number;
  /** Linear warmup at the very start, and after each reset. */
  readonly firstWarmupSteps: number;
  readonly restartWarmupSteps: number;
  /** AdamW-state reset at each merge: random pruning (the reference's usual 0.999), magnitude pruning, or full zeroing (ratio 1). */
  readonly pruning: 'random' | 'magnitude';
  readonly pruningRatio: number;
  readonly minLrRatio: number;
}

export interface ReloraStep {
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  readonly phase: 'warm-start' | 'relora';
  /** A merge-and-reinit happened right before this step. */
  readonly reset: boolean;
}

/** Weights other than the adapted linears keep training in the LoRA phase (embeddings, norms). */
function isLinearWeight(model: Transformer): (key: string) => boolean {
  const linear = new Set(linearModules(model.config).flatMap((m) => [m.weightKey]));
  return (key) => linear.has(key);
}

/**
 * ReLoRA: a full-rank warm start, then LoRA on every attention and MLP linear layer; every
 * `resetEvery` steps the low-rank update is merged into W on the GPU, A re-drawn, B zeroed and
 * the adapter's AdamW moments pruned, under a jagged cosine learning-rate schedule.
 */
export class ReloraRun {
  private trainer: Trainer;
  private target: TrainingTarget;
  private full: FullRankTarget;
  private adapter: LayeredAdapter | null = null;
  private readonly schedule: JaggedCosine;
  private readonly random: () => number;
  /** The step at which the last merge-and-reinit ran (a checkpoint may have done it early). */
  private lastResetStep = -1;
  step: number;

  /** `startStep` resumes a run from a checkpoint of merged weights taken at that step. */
  constructor(
    private readonly rt: GpuRuntime,
    private readonly model: Transformer,
    readonly settings: ReloraSettings,
    private readonly hyper: TrainHyper,
    startStep = 0,
  ) {
    this.step = startStep;
    this.schedule = {
      totalSteps: settings.totalSteps,
      warmupSteps: settings.firstWarmupSteps,
      resetEvery: settings.resetEvery,
      restartWarmupSteps: settings.restartWarmupSteps,
      minLrRatio: settings.minLrRatio,
      resetOffset: settings.warmStartSteps,
    };
    this.random = seededRandom((hyper.seed ^ 0x5e10a) + startStep);
    this.full = new FullRankTarget(rt, model);
    this.target = this.full;
    this.trainer = new Trainer(rt, model, this.full, hyper);
  }

  /** The learning-rate multiplier at a step (the jagged cosine). */
  lrMultiplier(step: number): number {
    return jaggedCosine(step, this.schedule);
  }

  /** The LoRA adapter of the current cycle (null during the warm start), e.g. for validation loss. */
  get currentAdapter(): LayeredAdapter | null {
    return this.adapter;
  }

  get phase(): 'warm-start' | 'relora' {
    return this.step < this.settings.warmStartSteps ? 'warm-start' : 'relora';
  }

  /** One optimizer step on `batch` (or its micro-batches, accumulated). */
  async trainStep(batch: DeviceBatch | readonly DeviceBatch[]): Promise<ReloraStep> {
    const s = this.settings;
    if (this.step >= s.warmStartSteps && !this.adapter) await this.startLora();
    const loraStep = this.step - s.warmStartSteps;
    const reset = this.adapter !== null && loraStep > 0 && loraStep % s.resetEvery === 0;
    if (reset && this.lastResetStep !== this.step) await this.mergeAndReset();
    const lr = this.hyper.lr * this.lrMultiplier(this.step);
    const loss = await this.trainer.trainStep(batch, lr);
    const result: ReloraStep = { step: this.step, loss, lr, phase: this.phase, reset };
    this.step++;
    return result;
  }

  /** LoRA on every linear layer; embeddings and norms keep training full-rank. */
  private async startLora(): Promise<void> {
    this.trainer.destroy();
    this.full.destroy();
    const names = [...new Set(linearModules(this.model.config).map((m) => m.name))];
    const spec: AdapterSpec = {
      method: 'lora',
      rank: this.settings.rank,
      alpha: this.settings.alpha,
      rslora: false,
      dropout: 0,
      targets: names,
      fanInFanOut: this.model.config.arch === 'gpt2',
      options: {},
    };
    const modules = linearModules(this.model.config);
    this.adapter = (await lora.create(this.rt, this.model, spec, modules, this.hyper.seed)) as LayeredAdapter;
    const linear = isLinearWeight(this.model);
    this.full = new FullRankTarget(this.rt, this.model, (key) => !linear(key));
    this.target = {
      adapter: this.adapter,
      params: [...this.adapter.parameters(), ...this.full.params],
      baseGrads: this.full.baseGrads,
    };
    this.trainer = new Trainer(this.rt, this.model, this.target, this.hyper);
  }

  /** Merge s·BA into W, re-draw A, zero B, prune the adapter's optimizer moments. */
  private async mergeAndReset(): Promise<void> {
    const adapter = this.adapter!;
    for (const m of linearModules(this.model.config)) {
      const layer = adapter.layerFor(m.modulePath) as LoraLayer;
      layer.mergeAndReinit(this.rt, kaimingUniform(this.settings.rank, m.inFeatures, Math.sqrt(5), this.random));
    }
    this.lastResetStep = this.step;
    const keys = new Set(adapter.parameters().map((p) => p.key));
    await this.trainer.pruneOptimizerState(keys, this.settings.pruning, this.settings.pruningRatio, Math.floor(this.random() * 2 ** 31));
  }

  /** Whether the next step starts a cycle (a reset, or the switch to LoRA): a good checkpoint. */
  get atCycleBoundary(): boolean {
    const loraStep = this.step - this.settings.warmStartSteps;
    return loraStep === 0 || (loraStep > 0 && loraStep % this.settings.resetEvery === 0);
  }

  /** The model with the current low-rank update merged: HF keys → weights. */
  async exportMergedWeights(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    if (this.adapter) await this.mergeAndReset();
    const all = new FullRankTarget(this.rt, this.model);
    const weights = await all.exportWeights();
    all.destroy();
    return weights;
  }

  destroy(): void {
    this.trainer.destroy();
    this.full.destroy();
    this.adapter?.destroy(this.rt);
  }
}
