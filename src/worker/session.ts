/**
 * What the worker holds between messages: the GPU runtime, the base model with its CPU weights
 * and tokenizer, the parsed dataset, the current adapter and the running training run.
 */
import { createAdapter, loadAdapter, trainableCount } from '../adapters/load';
import type { Adapter } from '../adapters/types';
import { splitTrainVal } from '../data/batches';
import { parseDatasetFile } from '../data/parse';
import { lengthStats } from '../data/lengths';
import { exampleParts, fitExample, tokenizeDataset, tokenizeRecord, type TextEncoder as DataEncoder, type TokenSequence } from '../data/tokenize';
import type { DatasetRecord, ParsedDataset } from '../data/types';
import { adapterSpecFor } from '../engine/adapter-spec';
import { continuationText, generate } from '../engine/generate';
import { mergedTensors } from '../engine/merge';
import { loadModelFolder, type ModelFolder } from '../engine/model-files';
import { float32ConfigJson } from '../formats/merged-folder';
import { adapterConfigJson, parseAdapterConfig } from '../formats/peft';
import { parseSafetensors, writeSafetensors } from '../formats/safetensors';
import { createBrowserRuntime } from '../gpu/browser';
import type { GpuRuntime } from '../gpu/runtime';
import { Transformer } from '../model/transformer';
import { stopOf } from './generation-text';
import type { DatasetOptions, DatasetSummary, ExamplePreview, GenerationProgress, HeldResult, GenerationSettings, GenerationStop, ModelSource, StudioEvent, TrainSettings, Which } from './protocol';
import { reloraSettingsProblem, reloraTrainableCount } from './relora-settings';
import { assertValidSettings } from './settings-validation';
import { ReloraTrainingRun } from './relora-training';
import { adaptedModulePaths, TrainingRun } from './training-run';

type Post = (event: StudioEvent, transfer?: Transferable[]) => void;

interface LoadedModel {
  readonly name: string;
  /** What an exported adapter_config.json names as its base model: null for loose files whose config.json does not say. */
  readonly baseModelId: string | null;
  readonly folder: ModelFolder;
  readonly transformer: Transformer;
}

interface PreparedDataset {
  readonly fileName: string;
  readonly parsed: ParsedDataset;
  train: TokenSequence[];
  val: TokenSequence[];
}

const PREVIEW_COUNT = 5;

/** A finished ReLoRA run: its own Transformer (the loaded weights + every merged update) and those weights on the CPU. */
interface ReloraResult {
  readonly transformer: Transformer;
  readonly weights: Map<string, { shape: number[]; data: Float32Array }>;
}

export class StudioSession {
  private rt: GpuRuntime | null = null;
  private model: LoadedModel | null = null;
  private dataset: PreparedDataset | null = null;
  private adapter: Adapter | null = null;
  private run: TrainingRun | ReloraTrainingRun | null = null;
  /** Set after a ReLoRA run; cleared when a PEFT adapter is trained or imported. */
  private relora: ReloraResult | null = null;
  private busy: Promise<unknown> = Promise.resolve();
  /** From a train request's arrival until its run ends (queued, running or paused): the model and dataset stay as they are. */
  private runActive = false;
  private tokenizeParams = { seqLen: 64, valFraction: 0.1, seed: 0, maxSamples: 0 };
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
        const folder = await loadModelFolder(await blobsOf(source));
        const loose = source.kind === 'files' && source.name === LOOSE_FILES;
        const baseModelId = loose ? savedName(folder.config.raw) : source.name;
        this.replaceModel(baseModelId ?? source.name, baseModelId, folder);
        this.postHeld();
        const m = this.model!;
        this.post({
          type: 'model-loaded',
          model: {
            name: m.name, architecture: String((folder.config.raw.architectures as string[] | undefined)?.[0] ?? folder.config.arch),
            config: folder.config, parameterCount: m.transformer.parameterCount, hasChatTemplate: folder.tokenizer.hasChatTemplate,
          },
        });
        if (this.dataset) this.retokenize(this.tokenizeParams.seqLen, this.tokenizeParams.valFraction, this.tokenizeParams.seed, this.datasetOptions);
      } catch (e) {
        this.post({ type: 'model-error', message: (e as Error).message });
      }
    });
  }

  private replaceModel(name: string, baseModelId: string | null, folder: ModelFolder): void {
    const rt = this.runtime();
    this.adapter?.destroy(rt);
    this.adapter = null;
    this.dropRelora();
    this.model?.transformer.destroy();
    this.model = { name, baseModelId, folder, transformer: new Transformer(rt, folder.config, folder.weights) };
  }

  // ---- dataset ------------------------------------------------------------------------------

  loadDataset(fileName: string, text: string, csvColumn: string | null, seqLen: number, valFraction: number, seed: number, options: DatasetOptions, maxSamples?: number): void {
    try {
      const parsed = parseDatasetFile(fileName, text, csvColumn === null ? {} : { csvColumn });
      this.dataset = { fileName, parsed, train: [], val: [] };
      this.retokenize(seqLen, valFraction, seed, options, maxSamples);
    } catch (e) {
      this.post({ type: 'dataset-error', message: (e as Error).message });
    }
  }

  /** `maxSamples` (0: all) keeps only the dataset's first examples, as LLaMA-Factory's max_samples does. */
  retokenize(seqLen: number, valFraction: number, seed: number, options: DatasetOptions = this.datasetOptions, maxSamples = this.tokenizeParams.maxSamples): void {
    this.tokenizeParams = { seqLen, valFraction, seed, maxSamples };
    this.datasetOptions = options;
    const d = this.dataset;
    if (!d) return;
    if (!this.model) return this.post({ type: 'dataset-error', message: 'load a model first: the dataset is tokenized with its tokenizer' });
    const tokenizer = this.chatEncoder();
    const records = maxSamples > 0 ? d.parsed.records.slice(0, maxSamples) : d.parsed.records;
    const tokenized = tokenizeDataset(records, tokenizer, seqLen, { truncation: options.truncation, rows: d.parsed.recordRows });
    const { train, val } = splitTrainVal(tokenized.sequences, valFraction, seed);
    d.train = train;
    d.val = val;
    const summary: DatasetSummary = {
      fileName: d.fileName, format: d.parsed.format, examples: d.parsed.records.length,
      badRows: [...d.parsed.badRows, ...tokenized.badRows.map((b) => ({ ...b, reason: `after tokenizing: ${b.reason}` }))].sort((a, b) => a.row - b.row),
      tooLong: tokenized.tooLong, lengths: lengthStats(tokenized.lengths, this.model.folder.config.maxPositions),
      hasChat: d.parsed.records.some((r) => r.kind === 'chat'), options,
      preview: d.parsed.records.slice(0, PREVIEW_COUNT).map((r, i) => this.previewOf(r, d.parsed.recordRows[i] ?? i + 1, tokenizer, seqLen, options)),
      trainSequences: train.length, valSequences: val.length, totalTokens: tokenized.totalTokens,
      truncated: tokenized.truncated, seqLen, columns: d.parsed.columns, column: d.parsed.column,
    };
    this.post({ type: 'dataset-loaded', dataset: summary });
  }

  /** The tokenizer with the chat template chosen for the dataset (the model's own by default). */
  private chatEncoder(): LoadedModel['folder']['tokenizer'] {
    return this.model!.folder.tokenizer.withChatTemplate(this.datasetOptions.chatTemplate);
  }

  /** A row whole, split into what the model reads (prompt) and what it learns (answer), and what becomes of it at seqLen. */
  private previewOf(record: DatasetRecord, row: number, tokenizer: DataEncoder, seqLen: number, options: DatasetOptions): ExamplePreview {
    const ex = tokenizeRecord(record, tokenizer);
    const split = exampleParts(record, tokenizer);
    if (typeof ex === 'string') return { row, ...split, promptTokens: 0, completionTokens: 0, status: 'bad', note: ex };
    const counts = { promptTokens: ex.promptIds.length, completionTokens: ex.completionIds.length };
    if (record.kind === 'text') return { row, ...split, ...counts, status: 'fits', note: null };
    const fit = fitExample(ex, seqLen, options.truncation);
    if (fit.kind === 'too-long') return { row, ...split, ...counts, status: 'too-long', note: fit.reason };
    if (fit.kind === 'fits') return { row, ...split, ...counts, status: 'fits', note: null };
    const total = ex.promptIds.length + ex.completionIds.length;
    const note = fit.promptKept < ex.promptIds.length
      ? `${total} tokens: the first ${ex.promptIds.length - fit.promptKept} prompt tokens are dropped to fit ${seqLen}`
      : `${total} tokens: the answer is cut at ${seqLen}`;
    return { row, ...split, ...counts, status: 'truncated', note };
  }

  // ---- training -----------------------------------------------------------------------------

  train(settings: TrainSettings, continueAdapter: boolean): Promise<void> {
    this.runActive = true;
    return this.exclusive(async () => {
      const before = [this.adapter, this.relora];
      try {
        await this.trainUnchecked(settings, continueAdapter);
      } catch (e) {
        this.run = null;
        this.post({ type: 'train-error', message: (e as Error).message });
        // A run that failed after dropping what was held (or making a new adapter) says what is left.
        if (this.adapter !== before[0] || this.relora !== before[1]) this.postHeld();
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
    const message = what === 'model'
      ? 'training is in progress: stop the run to change the model'
      : 'training is in progress: stop the run to change the dataset (the run trains on the data it started with)';
    this.post({ type: what === 'model' ? 'model-error' : 'dataset-error', message });
    return true;
  }

  /** What the worker holds now: a PEFT adapter (trained or imported), a ReLoRA-trained model, or nothing. */
  private postHeld(held: HeldResult | null = this.relora ? { kind: 'relora', method: 'relora' } : this.adapter ? { kind: 'adapter', method: this.adapter.spec.method } : null): void {
    this.post({ type: 'held', held });
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
    if (settings.method === 'relora') return this.trainRelora(settings);
    const continued = continueAdapter && this.adapter !== null;
    if (!continued) {
      this.adapter?.destroy(rt);
      this.adapter = null;
      this.dropRelora();
      const spec = adapterSpecFor({ ...settings, method: settings.method }, model.folder.config);
      this.adapter = await createAdapter(rt, model.transformer, spec, settings.seed);
    }
    const adapter = this.adapter!;
    const padId = model.folder.tokenizer.eosId ?? 0;
    this.run = new TrainingRun({ rt, model: model.transformer, adapter, settings, train: data.train, val: data.val, padId, post: this.post });
    this.postHeld();
    this.post({ type: 'train-started', totalSteps: this.run.totalSteps, trainableParams: trainableCount(adapter.spec, model.folder.config), continued, kind: 'adapter' });
    await this.run.run();
    this.run = null;
  }

  /**
   * ReLoRA merges into the weights it trains, so it trains a fresh Transformer built from the
   * loaded (CPU) weights; the loaded model stays as it was and remains the "base" side.
   */
  private async trainRelora(settings: TrainSettings): Promise<void> {
    const rt = this.runtime();
    const model = this.model!;
    const data = this.dataset!;
    const problem = reloraSettingsProblem(settings);
    if (problem) throw new Error(`ReLoRA: ${problem}`);
    this.adapter?.destroy(rt);
    this.adapter = null;
    this.dropRelora();
    const { config, weights, tokenizer } = model.folder;
    const transformer = new Transformer(rt, config, weights);
    try {
      const run = new ReloraTrainingRun({ rt, model: transformer, settings, train: data.train, val: data.val, padId: tokenizer.eosId ?? 0, post: this.post });
      this.run = run;
      this.postHeld({ kind: 'relora', method: 'relora' });
      this.post({
        type: 'train-started', totalSteps: run.totalSteps, continued: false, kind: 'relora',
        trainableParams: reloraTrainableCount(config, model.transformer.parameterCount, settings.rank),
      });
      const merged = await run.run();
      this.relora = { transformer, weights: merged };
      this.run = null;
      this.post({ type: 'train-finished', step: run.stepsDone, reason: run.wasStopped ? 'stopped' : 'completed' });
    } catch (e) {
      this.run = null;
      transformer.destroy();
      throw e;
    }
  }

  private dropRelora(): void {
    this.relora?.transformer.destroy();
    this.relora = null;
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
        await this.generateWith('base', null, settings);
        if (this.relora) await this.generateWith('adapted', null, settings, this.relora.transformer);
        else if (this.adapter) await this.generateWith('adapted', this.adapter, settings);
        else {
          const progress = { text: '(no adapter yet: train or import one)', tokens: 0, done: true, promptText: '', chat: false, stop: null };
          this.post({ type: 'generation-update', which: 'adapted', progress });
        }
      } catch (e) {
        this.post({ type: 'generation-error', message: (e as Error).message });
      }
    });
  }

  private async generateWith(which: Which, adapter: Adapter | null, s: GenerationSettings, on?: Transformer): Promise<void> {
    const { folder } = this.model!;
    const transformer = on ?? this.model!.transformer;
    // The chat template chosen for the dataset, so that a model trained on ChatML is prompted in ChatML.
    const tokenizer = this.chatEncoder();
    if (s.prompt === '') throw new Error('the prompt is empty');
    const chat = s.useChatTemplate && tokenizer.hasChatTemplate;
    const promptText = chat ? tokenizer.renderChat([{ role: 'user', content: s.prompt }], true) : s.prompt;
    const promptIds = tokenizer.encode(promptText);
    if (promptIds.length === 0) throw new Error('the prompt is empty');
    const decodedPrompt = tokenizer.decode(promptIds);
    const progress = (generated: readonly number[], done: boolean, stop: GenerationStop | null): GenerationProgress => ({
      text: continuationText(tokenizer.decode, promptIds, decodedPrompt, generated), tokens: generated.length, done, promptText, chat, stop,
    });
    const opts = { temperature: s.temperature, topK: s.topK, maxNewTokens: s.maxNewTokens, seed: s.seed, stopTokenIds: stopIdsWith(folder.stopTokenIds, tokenizer.endOfTurnId) };
    const { ids: generated, stopId } = await generate(this.runtime(), transformer, adapter, promptIds, opts, (ids) => {
      this.post({ type: 'generation-update', which, progress: progress(ids, false, null) });
    });
    const stop = stopOf({ stopId, endOfTurnId: tokenizer.endOfTurnId, tokenText: tokenizer.tokenText, generatedCount: generated.length, maxNewTokens: s.maxNewTokens });
    this.post({ type: 'generation-update', which, progress: progress(generated, true, stop) });
  }

  // ---- export / import ----------------------------------------------------------------------

  exportAdapter(): Promise<void> {
    return this.exclusive(async () => {
      try {
        if (this.relora) throw new Error('ReLoRA trains the model itself and leaves no PEFT adapter: download the merged model');
        const adapter = this.requireAdapter();
        const tensors = await adapter.exportTensors(this.runtime());
        const weights = writeSafetensors(tensors, { format: 'pt' });
        const configJson = adapterConfigJson(adapter.spec, this.model!.baseModelId);
        this.post({ type: 'export-ready', kind: 'adapter', weights, configJson }, [weights.buffer]);
      } catch (e) {
        this.post({ type: 'export-error', message: (e as Error).message });
      }
    });
  }

  exportMerged(): Promise<void> {
    return this.exclusive(async () => {
      try {
        if (this.relora && this.model) {
          const { folder } = this.model;
          const tensors = [...this.relora.weights].map(([name, w]) => ({ name, shape: w.shape, data: w.data }));
          const weights = writeSafetensors(tensors, { format: 'pt' });
          this.post({ type: 'export-ready', kind: 'merged', weights, configJson: float32ConfigJson(folder.configJson), extraFiles: folder.textFiles }, [weights.buffer]);
          return;
        }
        const adapter = this.requireAdapter();
        const { folder } = this.model!;
        const deltas = new Map<string, Float32Array>();
        for (const path of adaptedModulePaths(adapter)) deltas.set(path, await adapter.layerFor(path)!.deltaWeight(this.runtime()));
        const weights = writeSafetensors(mergedTensors(folder.config, folder.weights, deltas), { format: 'pt' });
        this.post({ type: 'export-ready', kind: 'merged', weights, configJson: float32ConfigJson(folder.configJson), extraFiles: folder.textFiles }, [weights.buffer]);
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
        const spec = parseAdapterConfig(configText, 'adapter_config.json');
        const file = parseSafetensors(new Uint8Array(await weights.arrayBuffer()), fileName);
        const adapter = loadAdapter(this.runtime(), model.transformer, spec, file.tensors, fileName);
        this.adapter?.destroy(this.runtime());
        this.adapter = adapter;
        this.dropRelora();
        const settings: Partial<TrainSettings> = {
          method: spec.method, rank: spec.rank, alpha: spec.alpha, rslora: spec.rslora, dropout: spec.dropout, targets: spec.targets,
        };
        this.postHeld();
        this.post({ type: 'adapter-imported', settings, trainableParams: trainableCount(spec, model.folder.config) });
      } catch (e) {
        this.post({ type: 'adapter-import-error', message: (e as Error).message });
      }
    });
  }

  private requireAdapter(): Adapter {
    if (!this.model) throw new Error('load a model first');
    if (!this.adapter) throw new Error('there is no adapter yet: train or import one');
    return this.adapter;
  }
}

function stopIdsWith(ids: readonly number[], endOfTurnId: number | null): number[] {
  return endOfTurnId === null || ids.includes(endOfTurnId) ? [...ids] : [...ids, endOfTurnId];
}

/** What the page calls files picked or dropped without their folder. */
const LOOSE_FILES = 'local model';

/** The last part of config.json's `_name_or_path` (what save_pretrained was loaded from), if any. */
function savedName(raw: Record<string, unknown>): string | null {
  const v = raw._name_or_path;
  if (typeof v !== 'string') return null;
  const last = v.replace(/[\\/]+$/, '').split(/[\\/]/).pop();
  return last ? last : null;
}

const BUNDLED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];

async function blobsOf(source: ModelSource): Promise<Map<string, Blob>> {
  if (source.kind === 'files') return new Map(source.files.map((f) => [f.name, f.blob]));
  const out = new Map<string, Blob>();
  for (const name of BUNDLED_FILES) {
    const res = await fetch(`${source.baseUrl}/${name}`);
    if (res.ok) out.set(name, await res.blob());
  }
  return out;
}
