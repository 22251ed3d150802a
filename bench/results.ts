/** What the bench page reports to the Node driver (as JSON), section by section. */
import type { AdapterMethod } from '../src/adapters';
import type { KernelTime } from '../src/gpu/profiler';
import type { LlamaDims } from './common';

/** A number, or the real error that kept an engine from producing one. */
export type Measured = { readonly value: number } | { readonly error: string };

export async function measure(run: () => Promise<number>): Promise<Measured> {
  try {
    return { value: await run() };
  } catch (e) {
    // The stack goes to the console (bench/run.ts echoes it); the table gets the message.
    console.error(e);
    return { error: errorText(e) };
  }
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface BenchSizes {
  /** Rows of the matmul shapes (batch × sequence of a training step). */
  readonly matmulTokens: number;
  readonly matmulDims: LlamaDims;
  /** The model of the training-step, adapter and memory sections. */
  readonly stepDims: LlamaDims;
  readonly batch: number;
  readonly seq: number;
  readonly rank: number;
  /** Timed repetitions after one warm-up; the median is reported. */
  readonly repeats: number;
}

export interface MatmulRow {
  readonly name: string;
  readonly flops: number;
  /** GFLOP/s. */
  readonly ours: Measured;
  readonly tfjs: Measured;
  readonly ort: Measured;
}

/** The step comparison's tolerances: relative loss error, and max-norm relative error of each LoRA gradient. */
export const LOSS_TOLERANCE = 1e-4;
export const GRAD_TOLERANCE = 1e-3;

export interface StepCheck {
  readonly lossOurs: number;
  readonly lossTfjs: number;
  readonly lossRel: number;
  /** The LoRA gradient with the largest max|ours − TF.js| / max|TF.js|, and that ratio. */
  readonly worstGradKey: string;
  readonly worstGradRel: number;
  /** Null when both tolerances hold, else why the timing was refused. */
  readonly failure: string | null;
}

export interface StepResult {
  readonly parameters: number;
  readonly trainable: number;
  readonly tokensPerStep: number;
  readonly check: StepCheck | { readonly error: string };
  /** Tokens per second. */
  readonly ours: Measured;
  readonly tfjs: Measured;
}

/** Median step times in ms: the frozen model's forward + backward, and each registered method's full step. */
export type AdapterCostResult = { readonly frozen: Measured } & Readonly<Record<AdapterMethod, Measured>>;

export interface MemoryResult {
  /** Buffers created by building the model, the adapter and the optimizer state. */
  readonly persistentBytes: number;
  /** Buffers the training steps created on top of those (activations, gradients of activations, scratch). */
  readonly stepBytes: number;
  /** The most bytes handed out at once during a step, above what was in use before it. */
  readonly stepPeakInUseBytes: number;
  readonly minimum: MemoryMinimum;
}

export interface MemoryMinimum {
  readonly weights: number;
  /** Adapter values, their gradients and AdamW's m and v. */
  readonly adapterState: number;
  /** Activations the backward pass must have, without recomputation. */
  readonly savedActivations: number;
}

export interface ProfileResult {
  /** Profiled training steps (after one unprofiled warm-up step). */
  readonly steps: number;
  /** GPU time per kernel over those steps, most expensive first. */
  readonly kernels: readonly KernelTime[];
}

export type SectionResult<T> = T | { readonly error: string };

export interface PageResult {
  readonly adapterInfo: Readonly<Record<string, string>>;
  readonly options: Readonly<Record<string, string>>;
  readonly sizes: BenchSizes;
  /** Each section, unless --only left it out. */
  readonly matmul?: SectionResult<{ readonly rows: MatmulRow[] }>;
  readonly step?: SectionResult<StepResult>;
  readonly adapters?: SectionResult<AdapterCostResult>;
  readonly memory?: SectionResult<MemoryResult>;
  readonly profile?: SectionResult<ProfileResult>;
  readonly seconds: number;
}

/** What the page leaves in window.__benchResult. */
export type PageOutcome = { readonly ok: true; readonly result: PageResult } | { readonly ok: false; readonly error: string };
