/**
 * Every message between the page and the studio worker, as discriminated unions on `type`.
 * The page sends StudioRequest; the worker answers with StudioEvent. Both sides switch on
 * `type` exhaustively, so adding a message here makes the compiler point at every handler.
 */
import type { ModelConfig } from '../formats/hf-config';
import type { AdapterMethod } from '../formats/peft';
import type { CsvDelimiter, DatasetFormat } from '../data/types';
import type { ChatTemplateChoice } from '../data/chat-template';
import type { LengthStats } from '../data/lengths';
import type { Truncation } from '../data/tokenize';
import type { ScheduleKind } from '../train/schedule';
import type { KernelTime } from '../gpu/profiler';
import type { LayerVectors } from '../model/adapter';
import type { DeviceLimits } from '../gpu/device';

// ---- shared shapes -------------------------------------------------------------------------

export interface GpuSummary {
  readonly description: string;
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly features: readonly string[];
}

export interface ModelSummary {
  readonly name: string;
  readonly architecture: string;
  readonly config: ModelConfig;
  readonly parameterCount: number;
  readonly hasChatTemplate: boolean;
}

/** What becomes of a previewed row at the current sequence length. */
export type PreviewStatus = 'fits' | 'truncated' | 'too-long' | 'bad';

export interface ExamplePreview {
  /** The file row it came from (1-based). */
  readonly row: number;
  /** The prompt as the model sees it (the rendered chat prompt for chat rows), whole; '' for text rows. */
  readonly prompt: string;
  /** What is learned (the rendered answer with its end-of-turn marker for chat rows), whole. */
  readonly answer: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly status: PreviewStatus;
  /** Why the row is left out or cut. */
  readonly note: string | null;
}

/** How pair and chat rows are tokenized (besides seqLen): the truncation side and the chat template. */
export interface DatasetOptions {
  readonly truncation: Truncation;
  readonly chatTemplate: ChatTemplateChoice;
}

export interface DatasetSummary {
  readonly fileName: string;
  readonly format: DatasetFormat;
  readonly examples: number;
  /** Malformed rows (and conversations the chat template refuses): unusable at any length. */
  readonly badRows: readonly { row: number; reason: string }[];
  /** Rows left out because they do not fit this sequence length (a length choice, not bad data). */
  readonly tooLong: readonly { row: number; reason: string }[];
  /** Token lengths of the pair and chat rows; null for plain text (packed, so every length fits). */
  readonly lengths: LengthStats | null;
  readonly hasChat: boolean;
  readonly options: DatasetOptions;
  readonly preview: readonly ExamplePreview[];
  readonly trainSequences: number;
  readonly valSequences: number;
  readonly totalTokens: number;
  readonly truncated: number;
  readonly seqLen: number;
  readonly columns: readonly string[];
  readonly column: string | null;
  /** CSV: the delimiter detected from the first lines (null: one column); absent for other formats. */
  readonly csvDelimiter?: CsvDelimiter | null;
}

/** The studio's methods: the three PEFT adapters, and ReLoRA (which changes the model itself). */
export type StudioMethod = AdapterMethod | 'relora';

/** ReLoRA's own knobs (rank, alpha, lr, steps, warmup steps and seed come from TrainSettings). */
export interface ReloraUiSettings {
  /** Full-rank steps before LoRA takes over. */
  readonly warmStartSteps: number;
  /** LoRA steps between merge-and-reinit resets. */
  readonly resetEvery: number;
  /** Linear lr re-warmup after each reset. */
  readonly restartWarmupSteps: number;
  readonly pruning: 'random' | 'magnitude';
  /** Fraction of the adapter's AdamW moments pruned at each reset. */
  readonly pruningRatio: number;
  readonly minLrRatio: number;
}

export interface TrainSettings {
  readonly method: StudioMethod;
  readonly rank: number;
  readonly alpha: number;
  readonly rslora: boolean;
  readonly dropout: number;
  /** Short module names (q_proj, ...) to adapt. */
  readonly targets: readonly string[];
  readonly lr: number;
  readonly schedule: ScheduleKind;
  readonly warmupSteps: number;
  readonly durationUnit: 'steps' | 'epochs';
  readonly steps: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly gradAccum: number;
  readonly seqLen: number;
  readonly seed: number;
  readonly valFraction: number;
  /** Validation loss and update statistics every this many steps (and at the end). */
  readonly evalEvery: number;
  /** AdamW's decoupled weight decay (0: none). */
  readonly weightDecay: number;
  /** Clip the global gradient norm to this (0: no clipping). */
  readonly maxGradNorm: number;
  /** Use at most this many examples of the dataset, the first ones (0: all). */
  readonly maxSamples: number;
  /** Recompute each layer's forward in backward instead of keeping its activations (Transformer.recomputeLayers). */
  readonly gradientCheckpointing: boolean;
  readonly relora: ReloraUiSettings;
}

export interface GenerationSettings {
  readonly prompt: string;
  /** Render the prompt as one user turn with the tokenizer's chat template (ignored when it has none). */
  readonly useChatTemplate: boolean;
  readonly temperature: number;
  readonly topK: number;
  readonly maxNewTokens: number;
  readonly seed: number;
}

export interface ModuleUpdateStats {
  readonly modulePath: string;
  readonly name: string;
  readonly layer: number;
  /** ΔM and ΔD (see kernels/update-stats). */
  readonly magnitude: number;
  readonly direction: number;
}

export type { LayerVectors };

/** A text file that goes with a merged model (tokenizer.json, tokenizer_config.json, generation_config.json). */
export interface ModelTextFile {
  readonly name: string;
  readonly text: string;
}

export type ModelSource =
  | { readonly kind: 'bundled'; readonly name: string; readonly baseUrl: string }
  | { readonly kind: 'files'; readonly name: string; readonly files: readonly { readonly name: string; readonly blob: Blob }[] };

export type Which = 'base' | 'adapted';

/**
 * Why a generation ended: a stop token (the chat template's end of turn, or another EOS id from
 * generation_config / the tokenizer), the max-new-tokens limit, or the model's last position.
 */
export type GenerationStop =
  | { readonly reason: 'end-of-turn' | 'eos'; readonly token: string }
  | { readonly reason: 'max-tokens' | 'positions' };

/** One side's generation so far. */
export interface GenerationProgress {
  /** The new text: decode(prompt + generated) minus decode(prompt), so a leading space survives. */
  readonly text: string;
  readonly tokens: number;
  readonly done: boolean;
  /** The text the model was given (the rendered chat prompt when the template is used). */
  readonly promptText: string;
  readonly chat: boolean;
  /** Set when done (null for a side that did not run). */
  readonly stop: GenerationStop | null;
}

/** What the last training or import left: a PEFT adapter, or a ReLoRA-trained model. */
export type TrainedKind = 'adapter' | 'relora';

/** What the worker holds after a run or import (null: nothing, e.g. after a new model was loaded). */
export interface HeldResult {
  readonly kind: TrainedKind;
  readonly method: StudioMethod;
}

/** ReLoRA's extra facts about one step. */
export interface ReloraStepInfo {
  readonly phase: 'warm-start' | 'relora';
  /** A merge-and-reinit happened right before this step. */
  readonly reset: boolean;
}

/** A run's loss and learning rate at every step and its validation losses (what the charts show); kept with its checkpoints. */
export interface RunHistory {
  readonly losses: readonly number[];
  readonly lrs: readonly number[];
  readonly valSteps: readonly number[];
  readonly valLosses: readonly number[];
}

/** What the page is told of a saved checkpoint: enough to offer the resume and say what it needs. */
export interface CheckpointSummary {
  /** Optimizer steps done when it was saved (the resumed run starts with the next). */
  readonly step: number;
  readonly totalSteps: number;
  /** ISO time of the save. */
  readonly savedAt: string;
  readonly modelName: string;
  readonly datasetName: string;
  /** The dataset file is kept with the checkpoint (resuming loads it); false: the same file must be loaded again first. */
  readonly datasetKept: boolean;
  readonly settings: TrainSettings;
}

/** What a resumed run brings back to the page: its charts so far and the settings and dataset options it runs with. */
export interface ResumedRun {
  readonly fromStep: number;
  readonly history: RunHistory;
  readonly settings: TrainSettings;
  readonly datasetOptions: DatasetOptions;
}

// ---- page → worker -------------------------------------------------------------------------

export type StudioRequest =
  /** `limits`: the device's limits to ask for (`?limits=default` in the address: exactly WebGPU's defaults). */
  | { readonly type: 'init'; readonly profile: boolean; readonly limits: DeviceLimits }
  | { readonly type: 'load-model'; readonly source: ModelSource }
  | {
      readonly type: 'load-dataset';
      readonly fileName: string;
      readonly text: string;
      readonly csvColumn: string | null;
      readonly seqLen: number;
      readonly valFraction: number;
      readonly seed: number;
      readonly options: DatasetOptions;
      readonly maxSamples?: number;
    }
  | {
      readonly type: 'retokenize-dataset';
      readonly seqLen: number;
      readonly valFraction: number;
      readonly seed: number;
      readonly options: DatasetOptions;
      readonly maxSamples?: number;
    }
  | {
      readonly type: 'train';
      readonly settings: TrainSettings;
      readonly continueAdapter: boolean;
      /** Save a checkpoint every this many steps, on pause, on stop and at the end (0: none). */
      readonly checkpointEvery: number;
    }
  /** Resumes the run of the saved checkpoint (refused, with resume-refused, unless the loaded model and the dataset are its own). */
  | { readonly type: 'resume-checkpoint'; readonly checkpointEvery: number }
  | { readonly type: 'discard-checkpoint' }
  /** A test hook: destroys the GPU device as a driver reset or a lost GPU would (device.lost then resolves). */
  | { readonly type: 'simulate-device-loss' }
  | { readonly type: 'pause' }
  | { readonly type: 'resume' }
  | { readonly type: 'stop' }
  | { readonly type: 'generate'; readonly settings: GenerationSettings }
  | { readonly type: 'export-adapter' }
  | { readonly type: 'export-merged' }
  | { readonly type: 'import-adapter'; readonly configText: string; readonly weights: Blob; readonly fileName: string };

// ---- worker → page -------------------------------------------------------------------------

export type PauseReason = 'user' | 'non-finite-loss';
export type FinishReason = 'completed' | 'stopped';

export type StudioEvent =
  | { readonly type: 'gpu-ready'; readonly gpu: GpuSummary }
  | { readonly type: 'gpu-unavailable'; readonly reason: string }
  | { readonly type: 'model-loading'; readonly name: string }
  | { readonly type: 'model-loaded'; readonly model: ModelSummary }
  | { readonly type: 'model-error'; readonly message: string }
  | { readonly type: 'dataset-loaded'; readonly dataset: DatasetSummary }
  | { readonly type: 'dataset-error'; readonly message: string }
  | {
      readonly type: 'train-started';
      readonly totalSteps: number;
      readonly trainableParams: number;
      readonly continued: boolean;
      readonly kind: TrainedKind;
      /** Set when the run resumes a checkpoint. */
      readonly resumed?: ResumedRun;
    }
  | {
      readonly type: 'train-step';
      readonly step: number;
      readonly totalSteps: number;
      readonly loss: number;
      readonly lr: number;
      readonly tokensPerSecond: number;
      readonly elapsedMs: number;
      readonly epoch: number;
      readonly relora?: ReloraStepInfo;
    }
  | { readonly type: 'val-loss'; readonly step: number; readonly loss: number }
  | { readonly type: 'kernel-profile'; readonly step: number; readonly kernels: readonly KernelTime[] }
  | { readonly type: 'profile-unavailable'; readonly reason: string }
  | {
      readonly type: 'update-stats';
      readonly step: number;
      readonly modules: readonly ModuleUpdateStats[];
      readonly vectors: readonly LayerVectors[];
    }
  | { readonly type: 'train-paused'; readonly step: number; readonly reason: PauseReason; readonly message: string }
  | { readonly type: 'train-resumed'; readonly step: number }
  | { readonly type: 'train-finished'; readonly step: number; readonly reason: FinishReason }
  | { readonly type: 'train-error'; readonly message: string }
  /** The newest checkpoint, on start-up and after a lost device (null: none): the page offers to resume it. */
  | { readonly type: 'checkpoint-offer'; readonly checkpoint: CheckpointSummary | null }
  | { readonly type: 'checkpoint-saved'; readonly checkpoint: CheckpointSummary }
  /** A checkpoint could not be saved (the run goes on) or checkpoints are unavailable. */
  | { readonly type: 'checkpoint-error'; readonly message: string }
  /** The checkpoint's run cannot resume here (another model or dataset, or it is unreadable); nothing was started. */
  | { readonly type: 'resume-refused'; readonly message: string }
  /**
   * The GPU device was lost: the run (if any) stopped, what was on the device is gone, and the
   * worker asked for a new device (`gpu` is set when it got one; the model is back on it).
   */
  | { readonly type: 'device-lost'; readonly message: string; readonly gpu: GpuSummary | null }
  | { readonly type: 'generation-update'; readonly which: Which; readonly progress: GenerationProgress }
  | { readonly type: 'generation-error'; readonly message: string }
  | { readonly type: 'export-ready'; readonly kind: 'adapter'; readonly weights: Uint8Array; readonly configJson: string }
  | {
      readonly type: 'export-ready';
      readonly kind: 'merged';
      readonly weights: Uint8Array;
      readonly configJson: string;
      readonly extraFiles: readonly ModelTextFile[];
    }
  | { readonly type: 'export-error'; readonly message: string }
  | { readonly type: 'adapter-imported'; readonly settings: Partial<TrainSettings>; readonly trainableParams: number }
  | { readonly type: 'adapter-import-error'; readonly message: string }
  /** Sent whenever what the worker holds changes (a run starts or fails, an import, a new model): the page's export and generate controls follow it. */
  | { readonly type: 'held'; readonly held: HeldResult | null };

/** Exhaustiveness check for switches over message types. */
export function unreachable(x: never): never {
  throw new Error(`unhandled message ${JSON.stringify(x)}`);
}
