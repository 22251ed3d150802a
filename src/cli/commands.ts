import { readFile } from 'node:fs/promises';
import { FullRankTarget } from '../train/full-rank';
import { ReloraRun, type ReloraSettings } from '../train/relora';
import { ADAPTER_METHODS, METHOD_NAMES } from '../adapters';
import { createAdapter, loadAdapter } from '../adapters/load';
import type { Adapter } from '../adapters/types';
import { parseBatch, type TokenBatch } from '../formats/batch';
import { FormatError } from '../formats/errors';
import type { ModelFolder } from '../formats/model-folder';
import { linearModules } from '../formats/hf-config';
import {
  ADAPTER_FOLDER_FILES,
  checkOutputFile,
  checkOutputFolder,
  MODEL_FOLDER_FILES,
  readAdapterFolder,
  readModelFolder,
  writeAdapterFolder,
  writeFileAtomic,
  writeModelFolder,
} from '../formats/node-fs';
import { targetedModules, type AdapterSpec } from '../formats/peft';
import { writeSafetensors } from '../formats/safetensors';
import { cliRuntime, type RuntimeChoice, runtimeChoice } from './runtime';
import type { GpuRuntime } from '../gpu/runtime';
import { Transformer } from '../model/transformer';
import { type DeviceBatch, releaseBatch, uploadBatch } from '../train/device-batch';
import { recordLoss } from '../train/step';
import { adapterSpecFor, linearModuleNames } from '../train/adapter-spec';
import { describeNeed, type FitInput, fitProblem, TooLargeError } from '../train/memory';
import { RELORA_DEFAULTS, TRAINING_DEFAULTS, trainHyper } from '../train/defaults';
import { evaluateLoss, Trainer, type TrainHyper } from '../train/trainer';
import { Flags, UsageError } from './args';

/** Everything a command works on, read and checked before any GPU work or output. */
interface Inputs {
  readonly modelPath: string;
  readonly model: ModelFolder;
  readonly batchJson: { text: string; path: string };
  /** --device-limits and --kernels. */
  readonly runtime: RuntimeChoice;
}

async function readInputs(flags: Flags): Promise<Inputs> {
  const runtime = runtimeChoice(flags); // a bad value is refused before the model is read
  const modelPath = flags.string('model');
  const model = await readModelFolder(modelPath);
  const path = flags.string('batch');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new FormatError(path, `cannot read batch file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return { modelPath, model, batchJson: { text, path }, runtime };
}

/**
 * Runs `work` with a runtime, the model and the batch on the GPU, releasing all of it after. With
 * `microBatches` > 1 the batch's rows are split into that many micro-batches (gradient
 * accumulation: one optimizer step over all of them takes the whole batch's mean loss).
 */
async function withEngine<T>(
  inputs: Inputs,
  work: (rt: GpuRuntime, model: Transformer, batches: MicroBatches) => Promise<T>,
  microBatches = 1,
  fit: FitCheck = { command: 'eval', adapter: null },
): Promise<T> {
  const { model: folder, batchJson } = inputs;
  const tokens = parseBatch(batchJson.text, batchJson.path, folder.config.vocabSize);
  if (tokens.seq > folder.config.maxPositions) {
    throw new FormatError(batchJson.path, `sequence length ${tokens.seq} exceeds the model's ${folder.config.maxPositions} positions`);
  }
  const parts = splitRows(tokens, microBatches);
  const rt = await cliRuntime(inputs.runtime);
  try {
    checkFits(fit, inputs, tokens, microBatches, rt); // against the device's limits, before anything is allocated
    const model = new Transformer(rt, folder.config, folder.weights);
    const batches = parts.map((part) => uploadBatch(rt, part)) as unknown as MicroBatches;
    const result = await work(rt, model, batches);
    for (const b of batches) releaseBatch(rt, b);
    model.destroy();
    return result;
  } finally {
    rt.destroy();
  }
}

/** What withEngine checks against the device before it allocates: the adapter to make or load, and whether whole logits are kept. */
interface FitCheck {
  readonly command: string;
  readonly adapter: (FitInput['adapter'] & { readonly from: string }) | null;
  readonly wholeLogits?: boolean;
}

/** The adapter of a spec on this model, for the fit check; `from` names where its rank comes from (a flag or a folder). */
function fitAdapter(spec: AdapterSpec, model: ModelFolder, from: string): NonNullable<FitCheck['adapter']> {
  return { spec, modules: targetedModules(spec, model.config, from), from };
}

/**
 * The rank, the model, the adapter and one micro-batch against the method's bound and the
 * device's per-buffer limits (train/memory.ts, the studio's check too); a TooLargeError naming the
 * flag and the limit. Without a runtime only the rank is checked (before the GPU starts).
 */
function checkFits(fit: FitCheck, inputs: Inputs, tokens: TokenBatch | null, microBatches: number, rt: GpuRuntime | null): void {
  const rows = tokens ? tokens.batch / microBatches : 1;
  const seq = tokens?.seq ?? 1;
  const p = fitProblem(
    { config: inputs.model.config, batch: rows, seq, adapter: fit.adapter, wholeLogits: fit.wholeLogits },
    rt?.info ?? null,
  );
  if (!p) return;
  const c = fit.command;
  const rank = fit.adapter?.spec.rank;
  if (!('need' in p)) {
    throw new TooLargeError('--rank', `${c}: ${fit.adapter?.from} ${rank} is too large for this model: at most ${p.max} (${p.why})`);
  }
  const needs = describeNeed(p.need, rt!.info);
  if (p.setting === 'model') throw new TooLargeError('--model', `${c}: --model ${inputs.modelPath} needs ${needs}; pick a smaller model`);
  if (p.setting === 'rank') throw new TooLargeError('--rank', `${c}: ${fit.adapter?.from} ${rank} needs ${needs}; use a smaller rank`);
  const perStep = microBatches > 1 ? `${rows} rows (${tokens!.batch} / --grad-accum ${microBatches})` : `${rows} rows`;
  const max = p.maxBatch ?? 0;
  let fix: string;
  if (max < 1) fix = `even one row of ${seq} tokens does not fit: use shorter sequences`;
  else {
    const total = tokens!.batch;
    const accum =
      c === 'train' ? Array.from({ length: total }, (_, i) => i + 1).find((d) => total % d === 0 && total / d <= max) : undefined;
    fix =
      `at most ${max} rows of ${seq} tokens fit in one ${c === 'train' ? 'micro-batch' : 'batch'}` +
      (accum !== undefined
        ? `: split the rows with --grad-accum ${accum} or use a smaller batch file`
        : ': use a batch file with fewer rows');
  }
  throw new TooLargeError('--batch', `${c}: --batch ${inputs.batchJson.path}: ${perStep} × ${seq} tokens need ${needs}; ${fix}`);
}

/** At least one. */
type MicroBatches = readonly [DeviceBatch, ...DeviceBatch[]];

/** The batch's rows in `n` equal micro-batches (n must divide the row count). */
function splitRows(tokens: TokenBatch, n: number): TokenBatch[] {
  if (n === 1) return [tokens];
  if (tokens.batch % n !== 0) throw new UsageError(`train: --grad-accum ${n} must divide the batch's ${tokens.batch} rows`);
  const rows = tokens.batch / n;
  const span = rows * tokens.seq;
  return Array.from({ length: n }, (_, i) => ({
    inputIds: tokens.inputIds.slice(i * span, (i + 1) * span),
    labels: tokens.labels.slice(i * span, (i + 1) * span),
    batch: rows,
    seq: tokens.seq,
  }));
}

async function adapterFromFolder(rt: GpuRuntime, model: Transformer, dir: string): Promise<Adapter> {
  const folder = await readAdapterFolder(dir, model.config);
  return loadAdapter(rt, model, folder.spec, folder.tensors, dir);
}

function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v)}\n`);
}

export async function runEval(argv: string[]): Promise<void> {
  const flags = new Flags('eval', argv, { values: ['model', 'adapter', 'batch', 'logits'] });
  const inputs = await readInputs(flags);
  const adapterDir = flags.optionalString('adapter');
  const existing = adapterDir ? await readAdapterFolder(adapterDir, inputs.model.config) : null; // fail before the GPU starts
  const logitsPath = flags.optionalString('logits');
  if (logitsPath) await checkOutputFile(logitsPath, 'the logits file');
  const fitted = existing ? fitAdapter(existing.spec, inputs.model, `--adapter ${adapterDir}: rank`) : null;
  const fit: FitCheck = { command: 'eval', adapter: fitted, wholeLogits: logitsPath !== undefined };
  await withEngine(
    inputs,
    async (rt, model, [batch]) => {
      const adapter = adapterDir ? await adapterFromFolder(rt, model, adapterDir) : null;
      const loss = await evaluateLoss(rt, model, adapter, batch);
      if (logitsPath) {
        const lossOut = rt.tensor([1], 'loss');
        const logits = recordLoss(rt, model, adapter, batch, { training: false, seed: 0 }, { withGrad: false, lossOut, keepLogits: true })!;
        const data = await rt.read(logits);
        const shape = [batch.B, batch.S, model.config.vocabSize];
        await writeFileAtomic(logitsPath, writeSafetensors([{ name: 'logits', shape, data }], undefined, logitsPath));
        rt.release(logits, lossOut);
      }
      printJson({ loss, tokens: batch.targetCount });
      adapter?.destroy(rt);
    },
    1,
    fit,
  );
}

export async function runGrads(argv: string[]): Promise<void> {
  const flags = new Flags('grads', argv, { values: ['model', 'adapter', 'batch', 'out'] });
  const inputs = await readInputs(flags);
  const adapterDir = flags.string('adapter');
  const out = flags.string('out');
  const existing = await readAdapterFolder(adapterDir, inputs.model.config);
  await checkOutputFile(out, 'the gradients file');
  const fit: FitCheck = { command: 'grads', adapter: fitAdapter(existing.spec, inputs.model, `--adapter ${adapterDir}: rank`) };
  await withEngine(
    inputs,
    async (rt, model, batches) => {
      const adapter = await adapterFromFolder(rt, model, adapterDir);
      const trainer = new Trainer(rt, model, adapter, trainHyper(0));
      trainer.recordGradients(batches);
      const grads = [];
      for (const p of adapter.parameters()) grads.push({ name: p.key, shape: [...p.value.shape], data: await rt.read(p.grad) });
      await writeFileAtomic(out, writeSafetensors(grads, { format: 'pt' }, out));
      trainer.destroy();
      adapter.destroy(rt);
    },
    1,
    fit,
  );
}

/** The studio's spec builder on the flags: CLI and studio make the same adapter from the same choice. */
function adapterSpecFromFlags(flags: Flags, model: ModelFolder): AdapterSpec {
  const name = flags.string('method');
  const method = METHOD_NAMES.find((m) => m === name);
  if (!method) throw new UsageError(`train: --method must be ${[...METHOD_NAMES, 'full'].join(', ')} or relora, got '${name}'`);
  const rank = flags.positiveInt('rank');
  const dropout = flags.number('dropout', 0, (v) => v >= 0 && v < 1, 'in [0, 1)');
  const { label, fields } = ADAPTER_METHODS[method].format;
  const unused = [!fields.alpha && flags.has('alpha') && '--alpha', !fields.rslora && flags.isSet('rslora') && '--rslora'].filter(Boolean);
  if (unused.length > 0) throw new UsageError(`train: ${label} has no ${unused.join(' or ')} (its adapter_config.json has no such field)`);
  const alpha = fields.alpha ? flags.number('alpha', 8, (v) => Number.isFinite(v) && v > 0, 'a positive number') : rank;
  return adapterSpecFor({ method, rank, alpha, rslora: flags.isSet('rslora'), dropout, targets: flags.list('targets') }, model.config);
}

function hyperFromFlags(flags: Flags): TrainHyper {
  const d = TRAINING_DEFAULTS;
  const betas = (flags.optionalString('betas') ?? `${d.beta1},${d.beta2}`).split(',').map(Number);
  if (betas.length !== 2 || betas.some((b) => !(b >= 0 && b < 1))) {
    throw new UsageError(`train: --betas must be two numbers in [0, 1), e.g. 0.9,0.999`);
  }
  return trainHyper(
    flags.number('lr', undefined, (v) => Number.isFinite(v) && v >= 0, 'a non-negative number'),
    {
      beta1: betas[0]!,
      beta2: betas[1]!,
      eps: flags.number('eps', d.eps, (v) => v > 0, 'a positive number'),
      weightDecay: flags.number('weight-decay', d.weightDecay, (v) => v >= 0, 'a non-negative number'),
      maxGradNorm: flags.number('max-grad-norm', d.maxGradNorm, (v) => v >= 0, 'a non-negative number (0: no clipping)'),
      seed: flags.number('seed', d.seed, Number.isSafeInteger, 'an integer'),
    },
  );
}

const RELORA_FLAGS = ['relora-reset', 'warm-start-steps', 'restart-warmup', 'optimizer-pruning', 'pruning', 'min-lr-ratio', 'warmup'];

export async function runTrain(argv: string[]): Promise<void> {
  const flags = new Flags('train', argv, {
    values: [
      'model',
      'adapter',
      'method',
      'rank',
      'alpha',
      'dropout',
      'targets',
      'batch',
      'steps',
      'lr',
      'betas',
      'eps',
      'weight-decay',
      'max-grad-norm',
      'grad-accum',
      'seed',
      'out',
      ...RELORA_FLAGS,
    ],
    switches: ['rslora', 'gradient-checkpointing'],
  });
  const method = flags.optionalString('method');
  if (method === 'full' || method === 'relora') return runFullRankTrain(flags, method);
  const inputs = await readInputs(flags);
  const adapterDir = flags.optionalString('adapter');
  if (adapterDir && flags.has('method')) throw new UsageError('train: give either --adapter or --method, not both');
  const newSpec = adapterDir ? null : adapterSpecFromFlags(flags, inputs.model);
  if (newSpec) targetedModules(newSpec, inputs.model.config, '--targets'); // fail before the GPU starts
  const existing = adapterDir ? await readAdapterFolder(adapterDir, inputs.model.config) : null;
  const fitSpec = newSpec
    ? fitAdapter(newSpec, inputs.model, '--rank')
    : fitAdapter(existing!.spec, inputs.model, `--adapter ${adapterDir}: rank`);
  const fit: FitCheck = { command: 'train', adapter: fitSpec };
  checkFits(fit, inputs, null, 1, null); // the rank, before the GPU starts
  const steps = flags.positiveInt('steps');
  const hyper = hyperFromFlags(flags);
  const gradAccum = flags.positiveInt('grad-accum', TRAINING_DEFAULTS.gradAccum);
  const out = flags.string('out');
  await checkOutputFolder(out, ADAPTER_FOLDER_FILES, 'the adapter folder'); // before any GPU work, not after it
  await withEngine(
    inputs,
    async (rt, model, batches) => {
      model.recomputeLayers = flags.isSet('gradient-checkpointing');
      const adapter = existing
        ? loadAdapter(rt, model, existing.spec, existing.tensors, adapterDir!)
        : await createAdapter(rt, model, newSpec!, hyper.seed);
      const trainer = new Trainer(rt, model, adapter, hyper);
      const started = performance.now();
      for (let step = 0; step < steps; step++) {
        const loss = await trainer.trainStep(batches);
        printJson({ step, loss });
        checkFinite(loss, step, out);
      }
      printDone(rt, steps, batches, started);
      await writeAdapterFolder(out, adapter.spec, await adapter.exportTensors(rt), null);
      trainer.destroy();
      adapter.destroy(rt);
    },
    gradAccum,
    fit,
  );
}

/**
 * The line `train` ends with: the steps run, the most GPU memory the run held at once (the buffer
 * pool's peak: weights, adapter, optimizer state and activations) and the tokens of the
 * micro-batches trained per second.
 */
function printDone(rt: GpuRuntime, steps: number, batches: MicroBatches, startedMs: number): void {
  const tokens = steps * batches.reduce((n, b) => n + b.B * b.S, 0);
  const seconds = (performance.now() - startedMs) / 1000;
  printJson({ done: true, steps, peak_gpu_bytes: rt.pool.peakBytes, tokens_per_s: Number((tokens / seconds).toFixed(2)) });
}

function checkFinite(loss: number, step: number, out: string): void {
  if (!Number.isFinite(loss)) throw new FormatError(out, `training diverged: loss is ${loss} at step ${step}; nothing was written`);
}

function reloraSettingsFromFlags(flags: Flags, steps: number): ReloraSettings {
  const pruning = flags.optionalString('pruning') ?? RELORA_DEFAULTS.pruning;
  if (pruning !== 'random' && pruning !== 'magnitude')
    throw new UsageError(`train: --pruning must be random or magnitude, got '${pruning}'`);
  const nonNegativeInt = (name: string, fallback: number) =>
    flags.number(name, fallback, (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer');
  const rank = flags.positiveInt('rank', 8);
  return {
    rank,
    alpha: flags.number('alpha', 2 * rank, (v) => v > 0, 'a positive number'),
    totalSteps: steps,
    warmStartSteps: nonNegativeInt('warm-start-steps', 0),
    resetEvery: flags.positiveInt('relora-reset'),
    firstWarmupSteps: nonNegativeInt('warmup', TRAINING_DEFAULTS.warmupSteps),
    restartWarmupSteps: nonNegativeInt('restart-warmup', 0),
    pruning,
    pruningRatio: flags.number('optimizer-pruning', RELORA_DEFAULTS.pruningRatio, (v) => v >= 0 && v <= 1, 'in [0, 1]'),
    minLrRatio: flags.number('min-lr-ratio', RELORA_DEFAULTS.minLrRatio, (v) => v >= 0 && v <= 1, 'in [0, 1]'),
  };
}

/** `--method full` and `--method relora`: every weight changes, so the output is a model folder. */
async function runFullRankTrain(flags: Flags, method: 'full' | 'relora'): Promise<void> {
  if (flags.has('adapter')) throw new UsageError(`train: --method ${method} trains the model itself and takes no --adapter`);
  if (method === 'full') for (const f of RELORA_FLAGS) if (flags.has(f)) throw new UsageError(`train: --${f} needs --method relora`);
  const inputs = await readInputs(flags);
  const steps = flags.positiveInt('steps');
  const hyper = hyperFromFlags(flags);
  const settings = method === 'relora' ? reloraSettingsFromFlags(flags, steps) : null;
  const fit: FitCheck = { command: 'train', adapter: settings ? reloraFitAdapter(settings, inputs.model) : null };
  checkFits(fit, inputs, null, 1, null); // the rank, before the GPU starts
  const gradAccum = flags.positiveInt('grad-accum', TRAINING_DEFAULTS.gradAccum);
  const out = flags.string('out');
  await checkOutputFolder(out, MODEL_FOLDER_FILES, 'the model folder'); // before any GPU work, not after it
  await withEngine(
    inputs,
    async (rt, model, batches) => {
      model.recomputeLayers = flags.isSet('gradient-checkpointing');
      let weights: Map<string, { shape: number[]; data: Float32Array }>;
      if (settings) {
        const run = new ReloraRun(rt, model, settings, hyper);
        const started = performance.now();
        for (let step = 0; step < steps; step++) {
          const r = await run.trainStep(batches);
          printJson({ step, loss: r.loss, lr: r.lr, phase: r.phase, reset: r.reset });
          checkFinite(r.loss, step, out);
        }
        printDone(rt, steps, batches, started);
        weights = await run.exportMergedWeights();
        run.destroy();
      } else {
        const target = new FullRankTarget(rt, model);
        const trainer = new Trainer(rt, model, target, hyper);
        const started = performance.now();
        for (let step = 0; step < steps; step++) {
          const loss = await trainer.trainStep(batches);
          printJson({ step, loss });
          checkFinite(loss, step, out);
        }
        printDone(rt, steps, batches, started);
        weights = await target.exportWeights();
        trainer.destroy();
        target.destroy();
      }
      await writeModelFolder(out, inputs.model.configJson, weights);
    },
    gradAccum,
    fit,
  );
}

/** ReLoRA's LoRA phase: LoRA on every linear layer, for the fit check. */
function reloraFitAdapter(settings: ReloraSettings, model: ModelFolder): NonNullable<FitCheck['adapter']> {
  const choice = { method: 'lora', rank: settings.rank, alpha: settings.alpha, rslora: false, dropout: 0 } as const;
  const spec = adapterSpecFor({ ...choice, targets: linearModuleNames(model.config) }, model.config);
  return { spec, modules: linearModules(model.config), from: '--rank' };
}
