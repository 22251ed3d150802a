/**
 * The studio's two training flows on the loaded model and the prepared dataset: a PEFT adapter
 * (new, or the held one continued) through TrainingRun, and ReLoRA on its own copy of the model
 * through ReloraTrainingRun. Settings are checked by the caller; what the run leaves goes to `held`.
 */
import { createAdapter, trainableCount } from '../adapters/load';
import type { GpuRuntime } from '../gpu/runtime';
import { Transformer } from '../model/transformer';
import { adapterSpecFor } from '../train/adapter-spec';
import type { PreparedDataset } from './dataset';
import type { HeldState } from './held';
import type { LoadedModel } from './model-source';
import type { StudioEvent, TrainSettings } from './protocol';
import { reloraSettingsProblem, reloraTrainableCount } from './relora-settings';
import { ReloraTrainingRun } from './relora-training';
import { TrainingRun } from './training-run';

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
}

/** Trains the held adapter further (`continueAdapter` and one is held) or a new one made from the settings. */
export async function trainAdapter(ctx: TrainingContext, settings: TrainSettings, continueAdapter: boolean): Promise<void> {
  const { rt, model, data, held } = ctx;
  if (settings.method === 'relora') throw new Error('ReLoRA trains through trainRelora');
  const continued = continueAdapter && held.adapter !== null;
  if (!continued) {
    held.drop(rt);
    const spec = adapterSpecFor({ ...settings, method: settings.method }, model.folder.config);
    held.holdAdapter(rt, await createAdapter(rt, model.transformer, spec, settings.seed));
  }
  const adapter = held.adapter!;
  const padId = model.folder.tokenizer.eosId ?? 0;
  const run = new TrainingRun({ rt, model: model.transformer, adapter, settings, train: data.train, val: data.val, padId, post: ctx.post });
  ctx.setRun(run);
  ctx.postHeld();
  ctx.post({
    type: 'train-started',
    totalSteps: run.totalSteps,
    trainableParams: trainableCount(adapter.spec, model.folder.config),
    continued,
    kind: 'adapter',
  });
  await run.run();
  ctx.setRun(null);
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
