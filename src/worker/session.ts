/**
 * What the worker holds between messages: the GPU runtime, the base model with its CPU weights
 * and tokenizer, the parsed dataset, what the last run or import left (held.ts) and the running
 * training run. Each concern lives in its own file: model-source.ts (opening a model), dataset.ts
 * (tokenizing and the page's summary), training.ts (the adapter and ReLoRA flows), generation.ts
 * and exports.ts; this class keeps the state and runs GPU work one job at a time.
 */
import type { GpuRuntime } from '../gpu/runtime';
import { createBrowserRuntime } from '../gpu/browser';
import { Transformer } from '../model/transformer';
import type { LoadedTokenizer } from '../tokenizer/load';
import { parseDataset, tokenizePrepared, type PreparedDataset, type TokenizeParams } from './dataset';
import { adapterFiles, importedAdapter, mergedFiles } from './exports';
import { generateSide, NO_ADAPTER_PROGRESS } from './generation';
import { HeldState } from './held';
import { architectureOf, openModel, type LoadedModel } from './model-source';
import type { DatasetOptions, GenerationSettings, ModelSource, StudioEvent, TrainSettings, Which } from './protocol';
import type { ReloraTrainingRun } from './relora-training';
import { assertValidSettings } from './settings-validation';
import { trainAdapter, trainRelora, type TrainingContext } from './training';
import type { TrainingRun } from './training-run';
import type { Adapter } from '../adapters/types';

type Post = (event: StudioEvent, transfer?: Transferable[]) => void;

export class StudioSession {
  private rt: GpuRuntime | null = null;
  private model: LoadedModel | null = null;
  private dataset: PreparedDataset | null = null;
  /** A PEFT adapter (trained or imported) or a ReLoRA-trained model; cleared by a new model, run or import. */
  private readonly held = new HeldState();
  private run: TrainingRun | ReloraTrainingRun | null = null;
  private busy: Promise<unknown> = Promise.resolve();
  /** From a train request's arrival until its run ends (queued, running or paused): the model and dataset stay as they are. */
  private runActive = false;
  private tokenizeParams: TokenizeParams = { seqLen: 64, valFraction: 0.1, seed: 0, maxSamples: 0 };
  private datasetOptions: DatasetOptions = { truncation: 'right', chatTemplate: 'model' };

  constructor(private readonly post: Post) {}

  /** Runs GPU work one job at a time (training, generation and export never interleave). */
  private exclusive<T>(job: () => Promise<T>): Promise<T> {
    const next = this.busy.then(job, job);
    this.busy = next.catch(() => undefined);
    return next;
  }

  async init(profile: boolean): Promise<void> {
    try {
      this.rt = await createBrowserRuntime();
      this.post({ type: 'gpu-ready', gpu: { ...this.rt.info, features: [...this.rt.info.features] } });
    } catch (e) {
      this.post({ type: 'gpu-unavailable', reason: (e as Error).message });
      return;
    }
    if (!profile) return;
    try {
      this.rt.enableProfiling();
    } catch (e) {
      this.post({ type: 'profile-unavailable', reason: (e as Error).message });
    }
  }

  private runtime(): GpuRuntime {
    if (!this.rt) throw new Error('WebGPU is not ready');
    return this.rt;
  }

  // ---- model --------------------------------------------------------------------------------

  loadModel(source: ModelSource): Promise<void> {
    return this.exclusive(async () => {
      this.post({ type: 'model-loading', name: source.name });
      try {
        const opened = await openModel(source);
        const rt = this.runtime();
        this.held.drop(rt);
        this.model?.transformer.destroy();
        const { folder } = opened;
        this.model = { ...opened, transformer: new Transformer(rt, folder.config, folder.weights) };
        this.postHeld();
        this.post({
          type: 'model-loaded',
          model: {
            name: this.model.name,
            architecture: architectureOf(folder),
            config: folder.config,
            parameterCount: this.model.transformer.parameterCount,
            hasChatTemplate: folder.tokenizer.hasChatTemplate,
          },
        });
        if (this.dataset)
          this.retokenize(this.tokenizeParams.seqLen, this.tokenizeParams.valFraction, this.tokenizeParams.seed, this.datasetOptions);
      } catch (e) {
        this.post({ type: 'model-error', message: (e as Error).message });
      }
    });
  }

  // ---- dataset ------------------------------------------------------------------------------

  loadDataset(
    fileName: string,
    text: string,
    csvColumn: string | null,
    seqLen: number,
    valFraction: number,
    seed: number,
    options: DatasetOptions,
    maxSamples?: number,
  ): void {
    try {
      this.dataset = parseDataset(fileName, text, csvColumn);
      this.retokenize(seqLen, valFraction, seed, options, maxSamples);
    } catch (e) {
      this.post({ type: 'dataset-error', message: (e as Error).message });
    }
  }

  /** `maxSamples` (0: all) keeps only the dataset's first examples, as LLaMA-Factory's max_samples does. */
  retokenize(
    seqLen: number,
    valFraction: number,
    seed: number,
    options: DatasetOptions = this.datasetOptions,
    maxSamples = this.tokenizeParams.maxSamples,
  ): void {
    this.tokenizeParams = { seqLen, valFraction, seed, maxSamples };
    this.datasetOptions = options;
    const d = this.dataset;
    if (!d) return;
    if (!this.model)
      return this.post({ type: 'dataset-error', message: 'load a model first: the dataset is tokenized with its tokenizer' });
    const summary = tokenizePrepared(d, this.chatEncoder(), this.model.folder.config.maxPositions, this.tokenizeParams, options);
    this.post({ type: 'dataset-loaded', dataset: summary });
  }

  /** The tokenizer with the chat template chosen for the dataset (the model's own by default). */
  private chatEncoder(): LoadedTokenizer {
    return this.model!.folder.tokenizer.withChatTemplate(this.datasetOptions.chatTemplate);
  }

  // ---- training -----------------------------------------------------------------------------

  train(settings: TrainSettings, continueAdapter: boolean): Promise<void> {
    this.runActive = true;
    return this.exclusive(async () => {
      const before = [this.held.adapter, this.held.relora];
      try {
        await this.trainUnchecked(settings, continueAdapter);
      } catch (e) {
        this.run = null;
        this.post({ type: 'train-error', message: (e as Error).message });
        // A run that failed after dropping what was held (or making a new adapter) says what is left.
        if (this.held.adapter !== before[0] || this.held.relora !== before[1]) this.postHeld();
      } finally {
        this.runActive = false;
      }
    });
  }

  /**
   * A model or dataset change while a run is queued, running or paused would leave the run on the
   * old one while the page shows the new one (and a new model discards the adapter being trained):
   * refused with an error the page shows. Returns true when refused.
   */
  refuseDuringRun(what: 'model' | 'dataset'): boolean {
    if (!this.runActive) return false;
    const message =
      what === 'model'
        ? 'training is in progress: stop the run to change the model'
        : 'training is in progress: stop the run to change the dataset (the run trains on the data it started with)';
    this.post({ type: what === 'model' ? 'model-error' : 'dataset-error', message });
    return true;
  }

  /** What the worker holds now: a PEFT adapter (trained or imported), a ReLoRA-trained model, or nothing. */
  private postHeld(): void {
    this.post({ type: 'held', held: this.held.describe() });
  }

  private async trainUnchecked(settings: TrainSettings, continueAdapter: boolean): Promise<void> {
    const rt = this.runtime();
    const model = this.model;
    if (!model) throw new Error('load a model first');
    if (!this.dataset) throw new Error('load a dataset first');
    // Every setting is checked before anything is tokenized or allocated (the page checks the same).
    assertValidSettings(settings, { config: model.folder.config });
    this.retokenize(settings.seqLen, settings.valFraction, settings.seed, this.datasetOptions, settings.maxSamples ?? 0);
    const data = this.dataset;
    assertValidSettings(settings, { config: model.folder.config, trainSequences: data.train.length });
    if (data.train.length === 0) throw new Error('the dataset has no training sequences at this sequence length');
    const ctx: TrainingContext = {
      rt,
      model,
      data,
      held: this.held,
      post: this.post,
      setRun: (run) => (this.run = run),
      postHeld: () => this.postHeld(),
    };
    if (settings.method === 'relora') return trainRelora(ctx, settings);
    return trainAdapter(ctx, settings, continueAdapter);
  }

  pause(): void {
    this.run?.control.pause();
  }

  resume(): void {
    this.run?.control.resume();
  }

  stop(): void {
    this.run?.control.stop();
  }

  // ---- generation ---------------------------------------------------------------------------

  generate(settings: GenerationSettings): Promise<void> {
    return this.exclusive(async () => {
      try {
        const model = this.model;
        if (!model) throw new Error('load a model first');
        const side = (which: Which, transformer: Transformer, adapter: Adapter | null) =>
          generateSide(
            {
              rt: this.runtime(),
              which,
              transformer,
              adapter,
              tokenizer: this.chatEncoder(),
              stopTokenIds: model.folder.stopTokenIds,
              post: this.post,
            },
            settings,
          );
        await side('base', model.transformer, null);
        const { relora, adapter } = this.held;
        if (relora) await side('adapted', relora.transformer, null);
        else if (adapter) await side('adapted', model.transformer, adapter);
        else this.post({ type: 'generation-update', which: 'adapted', progress: NO_ADAPTER_PROGRESS });
      } catch (e) {
        this.post({ type: 'generation-error', message: (e as Error).message });
      }
    });
  }

  // ---- export / import ----------------------------------------------------------------------

  exportAdapter(): Promise<void> {
    return this.exclusive(async () => {
      try {
        if (this.held.relora) throw new Error('ReLoRA trains the model itself and leaves no PEFT adapter: download the merged model');
        const adapter = this.requireAdapter();
        const { weights, configJson } = await adapterFiles(this.runtime(), adapter, this.model!.baseModelId);
        this.post({ type: 'export-ready', kind: 'adapter', weights, configJson }, [weights.buffer]);
      } catch (e) {
        this.post({ type: 'export-error', message: (e as Error).message });
      }
    });
  }

  exportMerged(): Promise<void> {
    return this.exclusive(async () => {
      try {
        const relora = this.held.relora;
        const from = relora && this.model ? { relora } : { adapter: this.requireAdapter() };
        const files = await mergedFiles(this.runtime(), this.model!.folder, from);
        this.post({ type: 'export-ready', kind: 'merged', ...files }, [files.weights.buffer]);
      } catch (e) {
        this.post({ type: 'export-error', message: (e as Error).message });
      }
    });
  }

  importAdapter(configText: string, weights: Blob, fileName: string): Promise<void> {
    return this.exclusive(async () => {
      try {
        const model = this.model;
        if (!model) throw new Error('load a model first');
        const rt = this.runtime();
        const imported = await importedAdapter(rt, model.transformer, model.folder, configText, weights, fileName);
        this.held.holdAdapter(rt, imported.adapter);
        this.postHeld();
        this.post({ type: 'adapter-imported', settings: imported.settings, trainableParams: imported.trainableParams });
      } catch (e) {
        this.post({ type: 'adapter-import-error', message: (e as Error).message });
      }
    });
  }

  private requireAdapter(): Adapter {
    if (!this.model) throw new Error('load a model first');
    if (!this.held.adapter) throw new Error('there is no adapter yet: train or import one');
    return this.held.adapter;
  }
}
