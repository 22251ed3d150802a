/**
 * `npm run measure-finetune`: what a user gets from the studio's default fine-tuning setup. For each
 * sample dataset in public/samples it loads the model folder as the studio does, parses, tokenizes and
 * splits the dataset with the studio worker's code and settings (LoRA, rank 8, `--steps` optimizer
 * steps, everything else the studio's defaults), trains with the worker's own TrainingRun, and reports
 * the held-out validation loss before and after, and greedy generations of the base and the adapted
 * model for a few fixed prompts. Prints a markdown summary and writes everything to --out as JSON.
 *
 *   npx tsx scripts/measure-finetune.ts [--model public/models/kjv-tiny] [--steps 200]
 *                                       [--out docs/finetune-results.json] [--samples public/samples] [--new-tokens 40]
 *                                       [--only ships-log.txt,pirate-instructions.jsonl]
 *
 * Bad input (missing model folder or file, unusable dataset) ends with one line on stderr, exit code 2,
 * and no output file, like the CLI.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createAdapter } from '../src/adapters/load';
import type { Adapter } from '../src/adapters/types';
import { Flags, UsageError } from '../src/cli/args';
import { splitTrainVal } from '../src/data/batches';
import { alpacaPrompt, parseDatasetFile } from '../src/data/parse';
import { tokenizeDataset, type TokenSequence } from '../src/data/tokenize';
import { DatasetError, type DatasetFormat, type ParsedDataset } from '../src/data/types';
import { adapterSpecFor } from '../src/train/adapter-spec';
import { generate } from '../src/generation/generate';
import type { TextModelFolder as ModelFolder } from '../src/formats/model-folder';
import { FormatError } from '../src/formats/errors';
import type { ModelConfig } from '../src/formats/hf-config';
import { readModelFolder, writeFileAtomic } from '../src/formats/node-fs';
import { WebGpuUnavailableError } from '../src/gpu/device';
import { createNodeRuntime } from '../src/gpu/node';
import type { GpuRuntime } from '../src/gpu/runtime';
import { Transformer } from '../src/model/transformer';
import { EmptyBatchError } from '../src/train/step';
import { sampleSeqLen } from '../src/ui/store/dataset-slice';
import { DEFAULT_SETTINGS, defaultTargets } from '../src/ui/store/settings-slice';
import type { StudioEvent, TrainSettings } from '../src/worker/protocol';
import { heldOutLoss, MAX_VAL_SEQUENCES, TrainingRun } from '../src/worker/training-run';

// ---- what is measured ------------------------------------------------------------------------

/** A fixed prompt: what the report shows, and the text the model is given. */
interface Prompt {
  readonly shown: string;
  readonly text: string;
}

interface SampleSpec {
  readonly file: string;
  readonly prompts: readonly Prompt[];
}

const plain = (text: string): Prompt => ({ shown: text, text });
/** Pirate rows are Alpaca instructions: the studio trains on alpacaPrompt(instruction, input) + output. */
const instruction = (text: string): Prompt => ({ shown: text, text: alpacaPrompt(text, '') });

/** Log-entry openings, and instructions that are not in the pirate dataset. */
const SAMPLES: readonly SampleSpec[] = [
  { file: 'ships-log.txt', prompts: [plain('Day 7.'), plain('Wind'), plain('The captain')] },
  {
    file: 'pirate-instructions.jsonl',
    prompts: [instruction('Describe a horse.'), instruction('Explain how to bake bread.'), instruction('Thank your teacher.')],
  },
];

const DEFAULTS = {
  model: 'public/models/kjv-tiny',
  steps: 200,
  out: 'docs/finetune-results.json',
  samples: 'public/samples',
  newTokens: 40,
};

export interface MeasureOptions {
  readonly modelDir: string;
  readonly steps: number;
  readonly samplesDir: string;
  readonly newTokens: number;
  /** Measure only these sample files (all when empty). */
  readonly only?: readonly string[];
}

export interface Generation {
  readonly prompt: string;
  readonly before: string;
  readonly after: string;
}

export interface DatasetResult {
  readonly file: string;
  readonly format: DatasetFormat;
  /** What the records are and what is learned of them. */
  readonly kind: string;
  readonly examples: number;
  readonly badRows: number;
  readonly trainSequences: number;
  readonly valSequences: number;
  /** Validation loss is taken on the first MAX_VAL_SEQUENCES held-out sequences, as in the studio. */
  readonly valSequencesEvaluated: number;
  /** The sequence length the studio sets for this sample; `settings.seqLen` is it cut to the model's positions. */
  readonly studioSeqLen: number;
  readonly settings: TrainSettings;
  readonly valLossBefore: number | null;
  readonly valLossAfter: number | null;
  /** (before - after) / before. */
  readonly relativeDrop: number | null;
  /** The studio's validation-loss chart: step 0 is the base model. */
  readonly valLossCurve: readonly { step: number; loss: number }[];
  /** Training loss of every optimizer step (before its update). */
  readonly trainLosses: readonly number[];
  readonly stepsDone: number;
  /** Why the run ended before `steps` (a non-finite loss), or null. */
  readonly stoppedEarly: string | null;
  readonly trainSeconds: number;
  readonly totalSeconds: number;
  readonly generations: readonly Generation[];
}

export interface FinetuneReport {
  readonly createdAt: string;
  readonly model: { dir: string; architecture: string; parameterCount: number; config: ModelConfig };
  readonly steps: number;
  readonly generation: { decoding: 'greedy'; maxNewTokens: number };
  readonly datasets: readonly DatasetResult[];
}

// ---- inputs, read and checked before the GPU starts -------------------------------------------

/** A sample after the studio's tokenization and validation split. */
interface PreparedSample {
  readonly spec: SampleSpec;
  readonly parsed: ParsedDataset;
  readonly settings: TrainSettings;
  readonly studioSeqLen: number;
  readonly train: TokenSequence[];
  readonly val: TokenSequence[];
  readonly tokenizerBadRows: number;
}

/**
 * The settings the studio trains with after "Use a sample dataset": its defaults, the sample's
 * sequence length (raised to what the sample needs and capped at the model's positions, as
 * loadSampleDataset does), the model's default targets, and the measured method, rank and step count.
 */
function studioSettings(file: string, config: ModelConfig, steps: number): { settings: TrainSettings; studioSeqLen: number } {
  const studioSeqLen = sampleSeqLen(file, DEFAULT_SETTINGS.seqLen, Infinity);
  const settings: TrainSettings = {
    ...DEFAULT_SETTINGS,
    method: 'lora',
    rank: 8,
    targets: defaultTargets(config),
    durationUnit: 'steps',
    steps,
    seqLen: sampleSeqLen(file, DEFAULT_SETTINGS.seqLen, config.maxPositions),
  };
  return { settings, studioSeqLen };
}

async function readDatasetText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new DatasetError(path, `cannot read the dataset (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** What the worker's loadDataset + retokenize do, with the training settings' length, fraction and seed. */
async function prepareSample(samplesDir: string, spec: SampleSpec, model: ModelFolder, steps: number): Promise<PreparedSample> {
  const path = join(samplesDir, spec.file);
  const parsed = parseDatasetFile(path, await readDatasetText(path));
  const { settings, studioSeqLen } = studioSettings(spec.file, model.config, steps);
  const tokenized = tokenizeDataset(parsed.records, model.tokenizer, settings.seqLen);
  const { train, val } = splitTrainVal(tokenized.sequences, settings.valFraction, settings.seed);
  if (train.length === 0) throw new DatasetError(path, `no training sequences at sequence length ${settings.seqLen}`);
  return { spec, parsed, settings, studioSeqLen, train, val, tokenizerBadRows: tokenized.badRows.length + tokenized.tooLong.length };
}

// ---- measuring on the GPU ---------------------------------------------------------------------

/** The loaded model as the worker holds it. */
interface Engine {
  readonly rt: GpuRuntime;
  readonly folder: ModelFolder;
  readonly transformer: Transformer;
  readonly padId: number;
}

/** The studio's validation loss (the same held-out batch TrainingRun scores). */
function validationLoss(engine: Engine, sample: PreparedSample, adapter: Adapter | null): Promise<number | null> {
  return heldOutLoss(engine.rt, engine.transformer, adapter, sample.val, sample.settings.seqLen, engine.padId);
}

/** Greedy continuation of one prompt, decoded as the studio's Generate panel shows it. */
async function continuation(engine: Engine, adapter: Adapter | null, prompt: Prompt, newTokens: number): Promise<string> {
  const { tokenizer } = engine.folder;
  const opts = { temperature: 0, topK: 0, maxNewTokens: newTokens, seed: 0, stopTokenIds: engine.folder.stopTokenIds };
  // A prompt longer than the model's positions keeps its end, with room left for the answer.
  const room = Math.max(1, engine.transformer.config.maxPositions - newTokens);
  const { ids } = await generate(engine.rt, engine.transformer, adapter, tokenizer.encode(prompt.text).slice(-room), opts, () => undefined);
  return tokenizer.decode(ids);
}

async function continuations(engine: Engine, adapter: Adapter | null, prompts: readonly Prompt[], newTokens: number): Promise<string[]> {
  const texts: string[] = [];
  for (const p of prompts) texts.push(await continuation(engine, adapter, p, newTokens));
  return texts;
}

interface RunLog {
  readonly trainLosses: number[];
  readonly valLosses: { step: number; loss: number }[];
  stepsDone: number;
  stoppedEarly: string | null;
  seconds: number;
}

/**
 * The worker's TrainingRun, its events collected instead of posted. A non-finite loss pauses a
 * studio run until the user resumes or stops it; with nobody to click, the run is stopped.
 */
async function trainLikeTheStudio(
  engine: Engine,
  sample: PreparedSample,
  adapter: Adapter,
  progress: (line: string) => void,
): Promise<RunLog> {
  const log: RunLog = { trainLosses: [], valLosses: [], stepsDone: 0, stoppedEarly: null, seconds: 0 };
  const every = Math.max(sample.settings.evalEvery, Math.round(sample.settings.steps / 10));
  let run: TrainingRun | null = null;
  const post = (e: StudioEvent): void => {
    if (e.type === 'train-step') log.trainLosses.push(e.loss);
    if (e.type === 'val-loss') log.valLosses.push({ step: e.step, loss: e.loss });
    if (e.type === 'val-loss' && (e.step % every === 0 || e.step === sample.settings.steps)) {
      progress(
        `${sample.spec.file}: step ${e.step}/${sample.settings.steps}, train loss ${fixed(log.trainLosses.at(-1))}, val loss ${fixed(e.loss)}`,
      );
    }
    if (e.type === 'train-paused') {
      log.stoppedEarly = e.message;
      run?.control.stop();
    }
    if (e.type === 'train-finished') log.stepsDone = e.step;
  };
  const { rt, transformer, padId } = engine;
  run = new TrainingRun({ rt, model: transformer, adapter, settings: sample.settings, train: sample.train, val: sample.val, padId, post });
  const started = performance.now();
  await run.run();
  log.seconds = (performance.now() - started) / 1000;
  return log;
}

async function measureSample(
  engine: Engine,
  sample: PreparedSample,
  newTokens: number,
  progress: (line: string) => void,
): Promise<DatasetResult> {
  const started = performance.now();
  const { settings, spec } = sample;
  progress(`${spec.file}: ${sample.train.length} train / ${sample.val.length} validation sequences of ≤ ${settings.seqLen} tokens`);
  const valLossBefore = await validationLoss(engine, sample, null);
  const before = await continuations(engine, null, spec.prompts, newTokens);
  const adapter = await createAdapter(
    engine.rt,
    engine.transformer,
    adapterSpecFor({ ...settings, method: 'lora' }, engine.folder.config),
    settings.seed,
  );
  try {
    const log = await trainLikeTheStudio(engine, sample, adapter, progress);
    const valLossAfter = await validationLoss(engine, sample, adapter);
    const after = await continuations(engine, adapter, spec.prompts, newTokens);
    return {
      ...datasetFacts(sample),
      valLossBefore,
      valLossAfter,
      relativeDrop: relativeDrop(valLossBefore, valLossAfter),
      valLossCurve: valLossBefore === null ? log.valLosses : [{ step: 0, loss: valLossBefore }, ...log.valLosses],
      trainLosses: log.trainLosses,
      stepsDone: log.stepsDone,
      stoppedEarly: log.stoppedEarly,
      trainSeconds: log.seconds,
      totalSeconds: (performance.now() - started) / 1000,
      generations: spec.prompts.map((p, i) => ({ prompt: p.shown, before: before[i]!, after: after[i]! })),
    };
  } finally {
    adapter.destroy(engine.rt);
  }
}

/** What a result says about the dataset itself, known before training. */
type DatasetFacts = Pick<
  DatasetResult,
  | 'file'
  | 'format'
  | 'kind'
  | 'examples'
  | 'badRows'
  | 'trainSequences'
  | 'valSequences'
  | 'valSequencesEvaluated'
  | 'studioSeqLen'
  | 'settings'
>;

function datasetFacts(sample: PreparedSample): DatasetFacts {
  const { parsed } = sample;
  return {
    file: sample.spec.file,
    format: parsed.format,
    kind: recordKind(parsed),
    examples: parsed.records.length,
    badRows: parsed.badRows.length + sample.tokenizerBadRows,
    trainSequences: sample.train.length,
    valSequences: sample.val.length,
    valSequencesEvaluated: Math.min(sample.val.length, MAX_VAL_SEQUENCES),
    studioSeqLen: sample.studioSeqLen,
    settings: sample.settings,
  };
}

function recordKind(parsed: ParsedDataset): string {
  const kinds = new Set(parsed.records.map((r) => r.kind));
  if (kinds.size === 1 && kinds.has('text')) return 'plain text, packed';
  return 'instructions, prompt masked';
}

function relativeDrop(before: number | null, after: number | null): number | null {
  return before === null || after === null ? null : (before - after) / before;
}

/** Loads and checks everything, then measures every sample on one runtime and one loaded model. */
export async function measureFinetune(
  options: MeasureOptions,
  progress: (line: string) => void = () => undefined,
): Promise<FinetuneReport> {
  const folder = await readModelFolder(options.modelDir, { tokenizer: true });
  const samples: PreparedSample[] = [];
  const chosen = SAMPLES.filter((spec) => !options.only?.length || options.only.includes(spec.file));
  for (const spec of chosen) samples.push(await prepareSample(options.samplesDir, spec, folder, options.steps));
  for (const s of samples) {
    if (s.settings.seqLen < s.studioSeqLen)
      progress(
        `note: ${s.spec.file}: the studio sets sequence length ${s.studioSeqLen}, beyond the model's ${folder.config.maxPositions} positions; measuring at ${s.settings.seqLen}`,
      );
  }
  const rt = await createNodeRuntime();
  try {
    const transformer = new Transformer(rt, folder.config, folder.weights);
    const engine: Engine = { rt, folder, transformer, padId: folder.tokenizer.eosId ?? 0 };
    const model = {
      dir: options.modelDir,
      architecture: architectureOf(folder),
      parameterCount: transformer.parameterCount,
      config: folder.config,
    };
    const datasets: DatasetResult[] = [];
    for (const s of samples) datasets.push(await measureSample(engine, s, options.newTokens, progress));
    transformer.destroy();
    const generation = { decoding: 'greedy' as const, maxNewTokens: options.newTokens };
    return { createdAt: new Date().toISOString(), model, steps: options.steps, generation, datasets };
  } finally {
    rt.destroy();
  }
}

function architectureOf(folder: ModelFolder): string {
  return String((folder.config.raw.architectures as string[] | undefined)?.[0] ?? folder.config.arch);
}

// ---- the report --------------------------------------------------------------------------------

function fixed(v: number | null | undefined, digits = 4): string {
  return v === null || v === undefined ? '–' : v.toFixed(digits);
}

export function markdownTable(report: FinetuneReport): string {
  const rows = report.datasets.map((d) => {
    const drop = d.relativeDrop === null ? '–' : `${(d.relativeDrop * 100).toFixed(1)} %`;
    const cells = [
      d.file,
      `${d.format} (${d.kind})`,
      d.trainSequences,
      d.valSequences,
      fixed(d.valLossBefore),
      fixed(d.valLossAfter),
      drop,
      d.trainSeconds.toFixed(1),
      d.totalSeconds.toFixed(1),
    ];
    return `| ${cells.join(' | ')} |`;
  });
  return [
    `LoRA rank 8 on ${basename(report.model.dir)} (${report.model.parameterCount.toLocaleString('en')} parameters), ${report.steps} steps, the studio's default settings`,
    '',
    '| dataset | format | train seq | val seq | val loss before | val loss after | relative drop | train s | total s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

export function markdownGenerations(report: FinetuneReport): string {
  const sections = report.datasets.map((d) => {
    const items = d.generations.map(
      (g) => `- prompt ${JSON.stringify(g.prompt)}\n  - before: ${JSON.stringify(g.before)}\n  - after:  ${JSON.stringify(g.after)}`,
    );
    return [`### ${d.file}`, '', ...items].join('\n');
  });
  return [`Greedy generations, ${report.generation.maxNewTokens} new tokens at most, base model vs base + adapter`, ...sections].join(
    '\n\n',
  );
}

// ---- command line ------------------------------------------------------------------------------

function optionsFrom(argv: readonly string[]): MeasureOptions & { out: string } {
  const flags = new Flags('measure-finetune', argv, { values: ['model', 'steps', 'out', 'samples', 'new-tokens', 'only'] });
  return {
    modelDir: flags.optionalString('model') ?? DEFAULTS.model,
    steps: flags.positiveInt('steps', DEFAULTS.steps),
    out: flags.optionalString('out') ?? DEFAULTS.out,
    samplesDir: flags.optionalString('samples') ?? DEFAULTS.samples,
    newTokens: flags.positiveInt('new-tokens', DEFAULTS.newTokens),
    only: flags.optionalString('only')?.split(',') ?? [],
  };
}

/** Errors a user can act on get one line; anything else is a bug and keeps its stack. */
function isUserError(e: unknown): e is Error {
  return (
    e instanceof FormatError ||
    e instanceof DatasetError ||
    e instanceof UsageError ||
    e instanceof WebGpuUnavailableError ||
    e instanceof EmptyBatchError
  );
}

/** Measures, prints the markdown to stdout (progress to stderr) and writes the JSON; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const { out, ...options } = optionsFrom(argv);
    const report = await measureFinetune(options, (line) => process.stderr.write(`${line}\n`));
    process.stdout.write(`${markdownTable(report)}\n\n${markdownGenerations(report)}\n`);
    await mkdir(dirname(out), { recursive: true });
    await writeFileAtomic(out, `${JSON.stringify(report, null, 2)}\n`);
    process.stderr.write(`wrote ${out}\n`);
    return 0;
  } catch (e) {
    if (!isUserError(e)) throw e;
    process.stderr.write(`error: ${e.message}\n`);
    return 2;
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  // Exits explicitly, as the CLI's main does.
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
