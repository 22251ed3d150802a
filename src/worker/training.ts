/**
 * The studio's two training flows on the loaded model and the prepared dataset: a PEFT adapter
 * (new, the held one continued, or a checkpoint's resumed) through TrainingRun, and ReLoRA on its
 * own copy of the model through ReloraTrainingRun. Settings are checked by the caller; what the
 * run leaves goes to `held`. Adapter runs save checkpoints when the context says where.
 */
import { createAdapter, loadAdapter, trainableCount } from '../adapters/load';
import type { AdapterSpec } from '../formats/peft';
import type { GpuRuntime } from '../gpu/runtime';
import { Transformer } from '../model/transformer';
import { adapterSpecFor } from '../train/adapter-spec';
import type { PreparedDataset } from './dataset';
import type { HeldState } from './held';
import type { LoadedModel } from './model-source';
import type { CheckpointStore } from './checkpoint-store';
import { checkpointSink, MAX_KEPT_DATASET_CHARS, type StudioCheckpoint, type StudioRun } from './checkpoints';
import type { StudioEvent, TrainSettings } from './protocol';
import { reloraSettingsProblem, reloraTrainableCount } from './relora-settings';
import { ReloraTrainingRun } from './relora-training';
import { type CheckpointSink, TrainingRun, totalStepsFor } from './training-run';

/** Where and how often an adapter run saves checkpoints, and what identifies it. */
export interface CheckpointPlan {
  readonly store: CheckpointStore;
  readonly every: number;
  readonly run: Omit<StudioRun, 'savedAt' | 'progress' | 'totalSteps'>;
  /** The dataset file's text, kept beside the checkpoints. */
  readonly datasetText: string;
}

export interface TrainingContext {
  readonly rt: GpuRuntime;
  readonly model: LoadedModel;
  readonly data: PreparedDataset;
  readonly held: HeldState;
  readonly post: (event: StudioEvent) => void;
  /** The run pause, resume and stop act on (null once it ended). */
  setRun(run: TrainingRun | ReloraTrainingRun | null): void;
  /** Tells the page what is held now. */
  postHeld(): void;
  /** Null: this run saves no checkpoints. */
  readonly checkpoints: CheckpointPlan | null;
  /** The checkpoint this run resumes (its adapter, optimizer, data order and charts). */
  readonly resume?: StudioCheckpoint;
  /** Rejects when the GPU device is lost (see TrainingRun). */
  readonly deviceLost?: Promise<never>;
}

/**
 * Trains the held adapter further (`continueAdapter` and one is held), a new one made from the
 * settings, or the checkpoint's adapter from where its run stopped (`ctx.resume`).
 */
export async function trainAdapter(ctx: TrainingContext, settings: TrainSettings, continueAdapter: boolean): Promise<void> {
  const { rt, model, data, held, resume } = ctx;
  if (settings.method === 'relora') throw new Error('ReLoRA trains through trainRelora');
  const continued = !resume && continueAdapter && held.adapter !== null;
  if (resume) held.holdAdapter(rt, loadAdapter(rt, model.transformer, resume.spec, resume.adapter, 'the checkpoint'));
  else if (!continued) {
    held.drop(rt);
    const spec = adapterSpecFor({ ...settings, method: settings.method }, model.folder.config);
    held.holdAdapter(rt, await createAdapter(rt, model.transformer, spec, settings.seed));
  }
  const adapter = held.adapter!;
  const totalSteps = totalStepsFor(settings, data.train.length);
  if (resume && resume.run.totalSteps !== totalSteps)
    throw new Error(`the checkpoint's run has ${resume.run.totalSteps} steps, but its settings make ${totalSteps} on this dataset`);
  const run = new TrainingRun({
    rt,
    model: model.transformer,
    adapter,
    settings,
    train: data.train,
    val: data.val,
    padId: model.folder.tokenizer.eosId ?? 0,
    post: ctx.post,
    checkpoints: ctx.checkpoints ? await startCheckpoints(ctx.checkpoints, adapter.spec, totalSteps, !resume, ctx.post) : undefined,
    deviceLost: ctx.deviceLost,
    resume: resume && { trainer: resume.trainer, dataOrder: resume.dataOrder, progress: resume.run.progress },
  });
  ctx.setRun(run);
  ctx.postHeld();
  ctx.post({
    type: 'train-started',
    totalSteps: run.totalSteps,
    trainableParams: trainableCount(adapter.spec, model.folder.config),
    continued: continued || resume !== undefined,
    kind: 'adapter',
    resumed: resume && {
      fromStep: resume.trainer.step,
      history: resume.run.progress.history,
      settings,
      datasetOptions: resume.run.datasetOptions,
    },
  });
  await run.run();
  ctx.setRun(null);
}

/**
 * The sink of a run's checkpoints. A new run replaces the last run's checkpoint (its offer is
 * over once the user starts another run) and keeps its dataset file beside its own, when it is
 * small enough; a resumed run goes on in its checkpoint's place.
 */
async function startCheckpoints(
  plan: CheckpointPlan,
  spec: AdapterSpec,
  totalSteps: number,
  fresh: boolean,
  post: (event: StudioEvent) => void,
): Promise<CheckpointSink> {
  let kept = plan.datasetText.length <= MAX_KEPT_DATASET_CHARS;
  try {
    if (fresh) await plan.store.clear();
    if (kept) await plan.store.keepText(plan.run.dataset.textFingerprint, plan.datasetText);
  } catch (e) {
    kept = false;
    post({ type: 'checkpoint-error', message: `Checkpoints may not be saved: ${(e as Error).message}` });
  }
  const run = { ...plan.run, totalSteps, dataset: { ...plan.run.dataset, kept } };
  return checkpointSink(plan.store, plan.every, spec, run, post);
}

/**
 * ReLoRA merges into the weights it trains, so it trains a fresh Transformer built from the
 * loaded (CPU) weights; the loaded model stays as it was and remains the "base" side.
 */
export async function trainRelora(ctx: TrainingContext, settings: TrainSettings): Promise<void> {
  const { rt, model, data, held, post } = ctx;
  const problem = reloraSettingsProblem(settings);
  if (problem) throw new Error(`ReLoRA: ${problem}`);
  held.drop(rt);
  const { config, weights, tokenizer } = model.folder;
  const transformer = new Transformer(rt, config, weights);
  try {
    const run = new ReloraTrainingRun({
      rt,
      model: transformer,
      settings,
      train: data.train,
      val: data.val,
      padId: tokenizer.eosId ?? 0,
      post,
    });
    ctx.setRun(run);
    post({ type: 'held', held: { kind: 'relora', method: 'relora' } });
    post({
      type: 'train-started',
      totalSteps: run.totalSteps,
      continued: false,
      kind: 'relora',
      trainableParams: reloraTrainableCount(config, model.transformer.parameterCount, settings.rank),
    });
    const merged = await run.run();
    held.holdRelora(rt, { transformer, weights: merged });
    ctx.setRun(null);
    post({ type: 'train-finished', step: run.stepsDone, reason: run.wasStopped ? 'stopped' : 'completed' });
  } catch (e) {
    ctx.setRun(null);
    transformer.destroy();
    throw e;
  }
}
