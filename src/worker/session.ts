/**
 * What the worker holds between messages: the GPU runtime, the base model with its CPU weights
 * and tokenizer, the parsed dataset, what the last run or import left (held.ts) and the running
 * training run. Each concern lives in its own file: model-source.ts (opening a model), dataset.ts
 * (tokenizing and the page's summary), training.ts (the adapter and ReLoRA flows), generation.ts
 * and exports.ts, checkpoints.ts and checkpoint-store.ts (saving and resuming runs); this class
 * keeps the state, runs GPU work one job at a time, and gets a new device when the GPU is lost.
 */
import type { DeviceLimits } from '../gpu/device';
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
import { Fingerprint, sequencesFingerprint } from '../train/fingerprint';
import { type CheckpointStore, openCheckpointStore } from './checkpoint-store';
import { datasetMismatch, type DatasetSource, modelMismatch, readStudioCheckpoint, type StudioCheckpoint, summaryOf } from './checkpoints';
import { DeviceLostError, deviceLostSignal } from './device-watch';
import type { GpuSummary } from './protocol';
import type { CheckpointPlan } from './training';

/** A resume that cannot go ahead here: the page shows why beside its offer, and nothing was started. */
class ResumeRefused extends Error {}

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
  /** The dataset file as given: checkpoints keep it, and identify it by its fingerprint. */
  private datasetSource: DatasetSource | null = null;
  /** Null where the browser has no OPFS (no checkpoints then). */
  private store: CheckpointStore | null = null;
  /** Rejects when the current runtime's device is lost. */
  private deviceLost: Promise<never> | null = null;
  private profile = false;
  /** The device limits the page asked for (init); a device that replaces a lost one gets the same. */
  private limits: DeviceLimits = 'adapter';

  constructor(private readonly post: Post) {}

  /** Runs GPU work one job at a time (training, generation and export never interleave). */
  private exclusive<T>(job: () => Promise<T>): Promise<T> {
    const next = this.busy.then(job, job);
    this.busy = next.catch(() => undefined);
    return next;
  }

  async init(profile: boolean, limits: DeviceLimits): Promise<void> {
    this.profile = profile;
    this.limits = limits;
    try {
      this.post({ type: 'gpu-ready', gpu: await this.startRuntime() });
    } catch (e) {
      this.post({ type: 'gpu-unavailable', reason: (e as Error).message });
      return;
    }
    this.store = await openCheckpointStore();
    await this.offerCheckpoint();
  }

  /** A runtime on a new device, watched for its loss, with profiling when the page asked for it. */
  private async startRuntime(): Promise<GpuSummary> {
    const rt = await createBrowserRuntime(this.limits);
    this.rt = rt;
    this.deviceLost = deviceLostSignal(rt.device);
    this.deviceLost.catch((e: DeviceLostError) => {
      if (this.rt === rt) this.onDeviceLost(e);
    });
    if (this.profile) {
      try {
        rt.enableProfiling();
      } catch (e) {
        this.post({ type: 'profile-unavailable', reason: (e as Error).message });
      }
    }
    return { ...rt.info, features: [...rt.info.features] };
  }

  // ---- a lost device -------------------------------------------------------------------------

  /**
   * The run stops at once (its waits race the same signal); once the job that was running has
   * ended, everything that lived on the device is let go and a new device is asked for.
   */
  private onDeviceLost(e: DeviceLostError): void {
    const step = this.run && 'stepsDone' in this.run ? this.run.stepsDone : null;
    this.run?.control.stop();
    void this.exclusive(() => this.recoverDevice(e, step));
  }

  private async recoverDevice(e: DeviceLostError, step: number | null): Promise<void> {
    const dead = this.rt!;
    const heldSomething = this.held.describe() !== null;
    this.held.drop(dead);
    this.model?.transformer.destroy();
    this.rt = null;
    let gpu: GpuSummary | null = null;
    try {
      gpu = await this.startRuntime();
    } catch {
      // Said below: without a device nothing can run until the page is reloaded.
    }
    const rt = this.rt as GpuRuntime | null;
    if (this.model)
      this.model = rt ? { ...this.model, transformer: new Transformer(rt, this.model.folder.config, this.model.folder.weights) } : null;
    const what =
      step !== null
        ? `during step ${step + 1} (${e.detail}), so the run stopped`
        : heldSomething
          ? `(${e.detail}), and with it what was trained on it`
          : `(${e.detail})`;
    const after = gpu ? 'The studio has a new GPU device and the model is back on it.' : 'No new GPU device could be had: reload the page.';
    this.post({ type: 'device-lost', message: `The GPU device was lost ${what}. ${after}`, gpu });
    this.postHeld();
    if (gpu) await this.offerCheckpoint();
  }

  /** Test hook: a lost device, as a driver reset would leave it. */
  simulateDeviceLoss(): void {
    this.rt?.device.destroy();
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
      this.datasetSource = { fileName, text, csvColumn, fingerprint: new Fingerprint().text(text).digest() };
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

  train(settings: TrainSettings, continueAdapter: boolean, checkpointEvery: number): Promise<void> {
    return this.runJob(() => this.trainUnchecked(settings, continueAdapter, checkpointEvery));
  }

  /** Resumes the newest checkpoint's run, refused (resume-refused) unless the loaded model and the dataset are its own. */
  resumeCheckpoint(checkpointEvery: number): Promise<void> {
    return this.runJob(async () => {
      const c = await this.checkpointToResume();
      await this.trainUnchecked(c.run.settings, false, checkpointEvery, c);
    });
  }

  /** A run from request to end: errors go to the page, a lost device to the recovery. */
  private runJob(job: () => Promise<void>): Promise<void> {
    this.runActive = true;
    return this.exclusive(async () => {
      const before = [this.held.adapter, this.held.relora];
      try {
        await job();
      } catch (e) {
        // The recovery (queued behind this job) tells the page; it reads the run's step first.
        const lost = e instanceof DeviceLostError || (await this.lostWithin(e));
        this.run = null;
        if (lost) return;
        const message = (e as Error).message;
        this.post(e instanceof ResumeRefused ? { type: 'resume-refused', message } : { type: 'train-error', message });
        // A run that failed after dropping what was held (or making a new adapter) says what is left.
        if (this.held.adapter !== before[0] || this.held.relora !== before[1]) this.postHeld();
      } finally {
        this.runActive = false;
      }
    });
  }

  /**
   * Whether a failed GPU operation failed for the device's loss: a destroyed device rejects its
   * pending reads (with a DOMException) just before device.lost resolves, so such an error waits
   * a moment for the loss before it counts as an error of its own.
   */
  private lostWithin(e: unknown, ms = 2_000): Promise<boolean> {
    const signal = this.deviceLost;
    if (!signal || !(e instanceof DOMException)) return Promise.resolve(false);
    return Promise.race([
      signal.then(
        () => false,
        () => true,
      ),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
    ]);
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

  private async trainUnchecked(
    settings: TrainSettings,
    continueAdapter: boolean,
    checkpointEvery: number,
    resume?: StudioCheckpoint,
  ): Promise<void> {
    const rt = this.runtime();
    const model = this.model;
    if (!model) throw new Error('load a model first');
    if (!this.dataset) throw new Error('load a dataset first');
    // Every setting is checked before anything is tokenized or allocated (the page checks the same).
    assertValidSettings(settings, { config: model.folder.config, limits: rt.info });
    this.retokenize(settings.seqLen, settings.valFraction, settings.seed, this.datasetOptions, settings.maxSamples ?? 0);
    const data = this.dataset;
    assertValidSettings(settings, { config: model.folder.config, trainSequences: data.train.length, limits: rt.info });
    if (data.train.length === 0) throw new Error('the dataset has no training sequences at this sequence length');
    const sequences = sequencesFingerprint(data.train, data.val);
    const mismatch = resume && datasetMismatch(resume.run, sequences);
    if (mismatch) throw new ResumeRefused(mismatch);
    const ctx: TrainingContext = {
      rt,
      model,
      data,
      held: this.held,
      post: this.post,
      setRun: (run) => (this.run = run),
      postHeld: () => this.postHeld(),
      checkpoints: this.checkpointPlan(settings, checkpointEvery, sequences),
      resume,
      deviceLost: this.deviceLost ?? undefined,
    };
    if (settings.method === 'relora') return trainRelora(ctx, settings);
    return trainAdapter(ctx, settings, continueAdapter);
  }

  // ---- checkpoints --------------------------------------------------------------------------

  /** Where this run's checkpoints go and what identifies it; null when it saves none (off, ReLoRA, or no OPFS: then the page is told). */
  private checkpointPlan(settings: TrainSettings, every: number, sequences: string): CheckpointPlan | null {
    if (every <= 0 || settings.method === 'relora' || !this.model || !this.datasetSource) return null;
    if (!this.store) {
      this.post({ type: 'checkpoint-error', message: 'Checkpoints are off: this browser gives the studio no Origin Private File System.' });
      return null;
    }
    const d = this.datasetSource;
    return {
      store: this.store,
      every,
      datasetText: d.text,
      run: {
        model: { name: this.model.name, fingerprint: this.model.fingerprint },
        dataset: {
          fileName: d.fileName,
          csvColumn: d.csvColumn,
          textFingerprint: d.fingerprint,
          sequencesFingerprint: sequences,
          kept: true,
        },
        settings,
        datasetOptions: this.datasetOptions,
      },
    };
  }

  /** Tells the page of the newest checkpoint (or that there is none). */
  private async offerCheckpoint(): Promise<void> {
    const c = await this.store?.latest(readStudioCheckpoint).catch(() => null);
    this.post({ type: 'checkpoint-offer', checkpoint: c ? summaryOf(c) : null });
  }

  /**
   * The newest checkpoint, once the loaded model is its run's and its dataset is loaded: the
   * one already loaded when it is the same file, else the copy kept with the checkpoint. The
   * dataset options come back with it (the run's sequences depend on them).
   */
  private async checkpointToResume(): Promise<StudioCheckpoint> {
    const c = await this.store?.latest(readStudioCheckpoint);
    if (!c) throw new ResumeRefused('there is no checkpoint to resume: it was discarded or a newer run replaced it');
    const problem = modelMismatch(c.run, this.model);
    if (problem) throw new ResumeRefused(problem);
    const d = c.run.dataset;
    if (this.datasetSource?.fingerprint !== d.textFingerprint) {
      const text = d.kept ? await this.store!.loadText(d.textFingerprint) : null;
      if (text === null || new Fingerprint().text(text).digest() !== d.textFingerprint) {
        const why = d.kept ? 'its copy kept with the checkpoint is gone' : 'it was too large to keep with the checkpoint';
        throw new ResumeRefused(`load the dataset file ${d.fileName} the run trained on first (${why})`);
      }
      this.dataset = parseDataset(d.fileName, text, d.csvColumn);
      this.datasetSource = { fileName: d.fileName, text, csvColumn: d.csvColumn, fingerprint: d.textFingerprint };
    }
    this.datasetOptions = c.run.datasetOptions;
    return c;
  }

  discardCheckpoint(): Promise<void> {
    return this.exclusive(async () => {
      await this.store?.clear();
      this.post({ type: 'checkpoint-offer', checkpoint: null });
    });
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
