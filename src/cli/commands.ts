import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FullRankTarget } from '../train/full-rank';
import { ReloraRun, type ReloraSettings } from '../train/relora';
import { createAdapter, loadAdapter } from '../adapters/load';
import type { Adapter } from '../adapters/types';
import { parseBatch } from '../formats/batch';
import { FormatError } from '../formats/errors';
import { readAdapterFolder, readModelFolder, writeAdapterFolder, writeFileAtomic, type ModelFolder } from '../formats/node-fs';
import { targetedModules, type AdapterMethod, type AdapterSpec } from '../formats/peft';
import { writeSafetensors } from '../formats/safetensors';
import { createNodeRuntime } from '../gpu/node';
import type { GpuRuntime } from '../gpu/runtime';
import { Transformer } from '../model/transformer';
import { type DeviceBatch, releaseBatch, uploadBatch } from '../train/device-batch';
import { recordLoss } from '../train/step';
import { evaluateLoss, Trainer, type TrainHyper } from '../train/trainer';
import { Flags, UsageError } from './args';

/** Everything a command works on, read and checked before any GPU work or output. */
interface Inputs {
  readonly model: ModelFolder;
  readonly batchJson: { text: string; path: string };
}

async function readInputs(flags: Flags): Promise<Inputs> {
  const model = await readModelFolder(flags.string('model'));
  const path = flags.string('batch');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new FormatError(path, `cannot read batch file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return { model, batchJson: { text, path } };
}

/** Runs `work` with a runtime, the model and the batch on the GPU, releasing all of it after. */
async function withEngine<T>(
  inputs: Inputs,
  work: (rt: GpuRuntime, model: Transformer, batch: DeviceBatch) => Promise<T>,
): Promise<T> {
  const { model: folder, batchJson } = inputs;
  const tokens = parseBatch(batchJson.text, batchJson.path, folder.config.vocabSize);
  if (tokens.seq > folder.config.maxPositions) {
    throw new FormatError(batchJson.path, `sequence length ${tokens.seq} exceeds the model's ${folder.config.maxPositions} positions`);
  }
  const rt = await createNodeRuntime();
  try {
    const model = new Transformer(rt, folder.config, folder.weights);
    const batch = uploadBatch(rt, tokens);
    const result = await work(rt, model, batch);
    releaseBatch(rt, batch);
    model.destroy();
    return result;
  } finally {
    rt.destroy();
  }
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
  if (adapterDir) await readAdapterFolder(adapterDir, inputs.model.config); // fail before the GPU starts
  const logitsPath = flags.optionalString('logits');
  await withEngine(inputs, async (rt, model, batch) => {
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
  });
}

export async function runGrads(argv: string[]): Promise<void> {
  const flags = new Flags('grads', argv, { values: ['model', 'adapter', 'batch', 'out'] });
  const inputs = await readInputs(flags);
  const adapterDir = flags.string('adapter');
  const out = flags.string('out');
  await readAdapterFolder(adapterDir, inputs.model.config);
  await withEngine(inputs, async (rt, model, batch) => {
    const adapter = await adapterFromFolder(rt, model, adapterDir);
    const trainer = new Trainer(rt, model, adapter, { lr: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 0, seed: 0 });
    trainer.recordGradients(batch);
    const grads = [];
    for (const p of adapter.parameters()) grads.push({ name: p.key, shape: [...p.value.shape], data: await rt.read(p.grad) });
    await writeFileAtomic(out, writeSafetensors(grads, { format: 'pt' }, out));
    trainer.destroy();
    adapter.destroy(rt);
  });
}

function adapterSpecFromFlags(flags: Flags, model: ModelFolder): AdapterSpec {
  const method = flags.string('method');
  if (method !== 'lora' && method !== 'dora' && method !== 'vera') {
    throw new UsageError(`train: --method must be lora, dora, vera, full or relora, got '${method}'`);
  }
  const rank = flags.positiveInt('rank');
  const dropout = flags.number('dropout', 0, (v) => v >= 0 && v < 1, 'in [0, 1)');
  if (method === 'vera' && (flags.has('alpha') || flags.isSet('rslora'))) {
    throw new UsageError('train: VeRA has no --alpha or --rslora (its scaling is the trained λ vectors)');
  }
  return {
    method: method as AdapterMethod,
    rank,
    alpha: method === 'vera' ? rank : flags.number('alpha', 8, (v) => Number.isFinite(v) && v > 0, 'a positive number'),
    rslora: flags.isSet('rslora'),
    dropout,
    targets: flags.list('targets'),
    fanInFanOut: model.config.arch === 'gpt2',
    dInitial: 0.1,
    projectionPrngKey: 0,
    saveProjection: true,
  };
}

function hyperFromFlags(flags: Flags): TrainHyper {
  const betas = (flags.optionalString('betas') ?? '0.9,0.999').split(',').map(Number);
  if (betas.length !== 2 || betas.some((b) => !(b >= 0 && b < 1))) {
    throw new UsageError(`train: --betas must be two numbers in [0, 1), e.g. 0.9,0.999`);
  }
  return {
    lr: flags.number('lr', undefined, (v) => Number.isFinite(v) && v >= 0, 'a non-negative number'),
    beta1: betas[0],
    beta2: betas[1],
    eps: flags.number('eps', 1e-8, (v) => v > 0, 'a positive number'),
    weightDecay: flags.number('weight-decay', 0, (v) => v >= 0, 'a non-negative number'),
    maxGradNorm: flags.number('max-grad-norm', 0, (v) => v >= 0, 'a non-negative number'),
    seed: flags.number('seed', 0, Number.isSafeInteger, 'an integer'),
  };
}

const RELORA_FLAGS = ['relora-reset', 'warm-start-steps', 'restart-warmup', 'optimizer-pruning', 'pruning', 'min-lr-ratio', 'warmup'];

export async function runTrain(argv: string[]): Promise<void> {
  const flags = new Flags('train', argv, {
    values: [
      'model', 'adapter', 'method', 'rank', 'alpha', 'dropout', 'targets', 'batch', 'steps', 'lr', 'betas', 'eps',
      'weight-decay', 'max-grad-norm', 'seed', 'out', ...RELORA_FLAGS,
    ],
    switches: ['rslora'],
  });
  const method = flags.optionalString('method');
  if (method === 'full' || method === 'relora') return runFullRankTrain(flags, method);
  const inputs = await readInputs(flags);
  const adapterDir = flags.optionalString('adapter');
  if (adapterDir && flags.has('method')) throw new UsageError('train: give either --adapter or --method, not both');
  const newSpec = adapterDir ? null : adapterSpecFromFlags(flags, inputs.model);
  if (newSpec) targetedModules(newSpec, inputs.model.config, '--targets'); // fail before the GPU starts
  const existing = adapterDir ? await readAdapterFolder(adapterDir, inputs.model.config) : null;
  const steps = flags.positiveInt('steps');
  const hyper = hyperFromFlags(flags);
  const out = flags.string('out');
  await withEngine(inputs, async (rt, model, batch) => {
    const adapter = existing
      ? loadAdapter(rt, model, existing.spec, existing.tensors, adapterDir!)
      : await createAdapter(rt, model, newSpec!, hyper.seed);
    const trainer = new Trainer(rt, model, adapter, hyper);
    for (let step = 0; step < steps; step++) {
      const loss = await trainer.trainStep(batch);
      printJson({ step, loss });
      checkFinite(loss, step, out);
    }
    await writeAdapterFolder(out, adapter.spec, await adapter.exportTensors(rt), null);
    trainer.destroy();
    adapter.destroy(rt);
  });
}

function checkFinite(loss: number, step: number, out: string): void {
  if (!Number.isFinite(loss)) throw new FormatError(out, `training diverged: loss is ${loss} at step ${step}; nothing was written`);
}

function reloraSettingsFromFlags(flags: Flags, steps: number): ReloraSettings {
  const pruning = flags.optionalString('pruning') ?? 'random';
  if (pruning !== 'random' && pruning !== 'magnitude') throw new UsageError(`train: --pruning must be random or magnitude, got '${pruning}'`);
  const nonNegativeInt = (name: string, fallback: number) => flags.number(name, fallback, (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer');
  const rank = flags.positiveInt('rank', 8);
  return {
    rank,
    alpha: flags.number('alpha', 2 * rank, (v) => v > 0, 'a positive number'),
    totalSteps: steps,
    warmStartSteps: nonNegativeInt('warm-start-steps', 0),
    resetEvery: flags.positiveInt('relora-reset'),
    firstWarmupSteps: nonNegativeInt('warmup', 0),
    restartWarmupSteps: nonNegativeInt('restart-warmup', 0),
    pruning,
    pruningRatio: flags.number('optimizer-pruning', 0.999, (v) => v >= 0 && v <= 1, 'in [0, 1]'),
    minLrRatio: flags.number('min-lr-ratio', 0.1, (v) => v >= 0 && v <= 1, 'in [0, 1]'),
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
  const out = flags.string('out');
  await withEngine(inputs, async (rt, model, batch) => {
    let weights: Map<string, { shape: number[]; data: Float32Array }>;
    if (settings) {
      const run = new ReloraRun(rt, model, settings, hyper);
      for (let step = 0; step < steps; step++) {
        const r = await run.trainStep(batch);
        printJson({ step, loss: r.loss, lr: r.lr, phase: r.phase, reset: r.reset });
        checkFinite(r.loss, step, out);
      }
      weights = await run.exportMergedWeights();
      run.destroy();
    } else {
      const target = new FullRankTarget(rt, model);
      const trainer = new Trainer(rt, model, target, hyper);
      for (let step = 0; step < steps; step++) {
        const loss = await trainer.trainStep(batch);
        printJson({ step, loss });
        checkFinite(loss, step, out);
      }
      weights = await target.exportWeights();
      trainer.destroy();
      target.destroy();
    }
    await writeModelFolder(out, inputs.model.config.raw, weights);
  });
}

/** config.json (as read) + model.safetensors with HF keys, each written atomically. */
async function writeModelFolder(dir: string, config: Record<string, unknown>, weights: Map<string, { shape: number[]; data: Float32Array }>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const weightsPath = join(dir, 'model.safetensors');
  await writeFileAtomic(weightsPath, writeSafetensors(weights, { format: 'pt' }, weightsPath));
  await writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}
