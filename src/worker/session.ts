/**
 * What the worker holds between messages: the GPU runtime, the base model with its CPU weights
 * and tokenizer, the parsed dataset, the current adapter and the running training run.
 */
import { createAdapter, loadAdapter, trainableCount } from '../adapters/load';
import type { Adapter } from '../adapters/types';
import { splitTrainVal } from '../data/batches';
import { parseDatasetFile } from '../data/parse';
import { tokenizeDataset, tokenizeRecord, type TokenSequence } from '../data/tokenize';
import type { DatasetRecord, ParsedDataset } from '../data/types';
import { adapterSpecFor } from '../engine/adapter-spec';
import { continuationText, generate } from '../engine/generate';
import { mergedTensors } from '../engine/merge';
import { loadModelFolder, type ModelFolder } from '../engine/model-files';
import { adapterConfigJson, parseAdapterConfig } from '../formats/peft';
import { parseSafetensors, writeSafetensors } from '../formats/safetensors';
import { createBrowserRuntime } from '../gpu/browser';
import type { GpuRuntime } from '../gpu/runtime';
import { Transformer } from '../model/transformer';
import { stopOf } from './generation-text';
import type { DatasetSummary, GenerationProgress, GenerationSettings, GenerationStop, ModelSource, StudioEvent, TrainSettings, Which } from './protocol';
import { reloraSettingsProblem, reloraTrainableCount } from './relora-settings';
import { ReloraTrainingRun } from './relora-training';
import { adaptedModulePaths, TrainingRun } from './training-run';

type Post = (event: StudioEvent, transfer?: Transferable[]) => void;

interface LoadedModel {
  readonly name: string;
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
  private tokenizeParams = { seqLen: 64, valFraction: 0.1, seed: 0 };

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
        this.replaceModel(source.kind === 'files' && source.name === LOOSE_FILES ? (savedName(folder.config.raw) ?? source.name) : source.name, folder);
        const m = this.model!;
        this.post({
          type: 'model-loaded',
          model: {
            name: m.name, architecture: String((folder.config.raw.architectures as string[] | undefined)?.[0] ?? folder.config.arch),
            config: folder.config, parameterCount: m.transformer.parameterCount, hasChatTemplate: folder.tokenizer.hasChatTemplate,
          },
        });
        if (this.dataset) this.retokenize(this.tokenizeParams.seqLen, this.tokenizeParams.valFraction, this.tokenizeParams.seed);
      } catch (e) {
        this.post({ type: 'model-error', message: (e as Error).message });
      }
    });
  }

  private replaceModel(name: string, folder: ModelFolder): void {
    const rt = this.runtime();
    this.adapter?.destroy(rt);
    this.adapter = null;
    this.dropRelora();
    this.model?.transformer.destroy();
    this.model = { name, folder, transformer: new Transformer(rt, folder.config, folder.weights) };
  }

  // ---- dataset ------------------------------------------------------------------------------

  loadDataset(fileName: string, text: string, csvColumn: string | null, seqLen: number, valFraction: number, seed: number): void {
    try {
      const parsed = parseDatasetFile(fileName, text, csvColumn === null ? {} : { csvColumn });
      this.dataset = { fileName, parsed, train: [], val: [] };
      this.retokenize(seqLen, valFraction, seed);
    } catch (e) {
      this.post({ type: 'dataset-error', message: (e as Error).message });
    }
  }

  retokenize(seqLen: number, valFraction: number, seed: number): void {
    this.tokenizeParams = { seqLen, valFraction, seed };
    const d = this.dataset;
    if (!d) return;
    if (!this.model) return this.post({ type: 'dataset-error', message: 'load a model first: the dataset is tokenized with its tokenizer' });
    const tokenizer = this.model.folder.tokenizer;
    const tokenized = tokenizeDataset(d.parsed.records, tokenizer, seqLen);
    const { train, val } = splitTrainVal(tokenized.sequences, valFraction, seed);
    d.train = train;
    d.val = val;
    const summary: DatasetSummary = {
      fileName: d.fileName, format: d.parsed.format, examples: d.parsed.records.length,
      badRows: [...d.parsed.badRows, ...tokenized.badRows.map((b) => ({ ...b, reason: `after tokenizing: ${b.reason}` }))],
      preview: d.parsed.records.slice(0, PREVIEW_COUNT).map((r) => this.previewOf(r)),
      trainSequences: train.length, valSequences: val.length, totalTokens: tokenized.totalTokens,
      truncated: tokenized.truncated, seqLen, columns: d.parsed.columns, column: d.parsed.column,
    };
    this.post({ type: 'dataset-loaded', dataset: summary });
  }

  private previewOf(record: DatasetRecord): DatasetSummary['preview'][number] {
    const tokenizer = this.model!.folder.tokenizer;
    const ex = tokenizeRecord(record, tokenizer);
    const text = record.kind === 'text' ? record.text : record.kind === 'pair' ? `${record.prompt}⟶ ${record.completion}` : record.messages.map((m) => `${m.role}: ${m.content}`).join('\n');
    if (typeof ex === 'string') return { text, promptTokens: 0, completionTokens: 0 };
    return { text: text.slice(0, 400), promptTokens: ex.promptIds.length, completionTokens: ex.completionIds.length };
  }

  // ---- training -----------------------------------------------------------------------------

  train(settings: TrainSettings, continueAdapter: boolean): Promise<void> {
    return this.exclusive(async () => {
      try {
        await this.trainUnchecked(settings, continueAdapter);
      } catch (e) {
        this.run = null;
        this.post({ type: 'train-error', message: (e as Error).message });
      }
    });
  }

  private async trainUnchecked(settings: TrainSettings, continueAdapter: boolean): Promise<void> {
    const rt = this.runtime();
    const model = this.model;
    if (!model) throw new Error('load a model first');
    if (!this.dataset) throw new Error('load a dataset first');
    this.retokenize(settings.seqLen, settings.valFraction, settings.seed);
    const data = this.dataset;
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
    const tokenizer = folder.tokenizer;
    if (s.prompt === '') throw new Error('the prompt is empty');
    const chat = s.useChatTemplate && tokenizer.hasChatTemplate;
    const promptText = chat ? tokenizer.renderChat([{ role: 'user', content: s.prompt }], true) : s.prompt;
    const promptIds = tokenizer.encode(promptText);
    if (promptIds.length === 0) throw new Error('the prompt is empty');
    const decodedPrompt = tokenizer.decode(promptIds);
    const progress = (generated: readonly number[], done: boolean, stop: GenerationStop | null): GenerationProgress => ({
      text: continuationText(tokenizer.decode, promptIds, decodedPrompt, generated), tokens: generated.length, done, promptText, chat, stop,
    });
    const opts = { temperature: s.temperature, topK: s.topK, maxNewTokens: s.maxNewTokens, seed: s.seed, stopTokenIds: folder.stopTokenIds };
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
        const configJson = adapterConfigJson(adapter.spec, this.model!.name);
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
          this.post({ type: 'export-ready', kind: 'merged', weights, configJson: folder.configJson }, [weights.buffer]);
          return;
        }
        const adapter = this.requireAdapter();
        const { folder } = this.model!;
        const deltas = new Map<string, Float32Array>();
        for (const path of adaptedModulePaths(adapter)) deltas.set(path, await adapter.layerFor(path)!.deltaWeight(this.runtime()));
        const weights = writeSafetensors(mergedTensors(folder.config, folder.weights, deltas), { format: 'pt' });
        this.post({ type: 'export-ready', kind: 'merged', weights, configJson: folder.configJson }, [weights.buffer]);
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
