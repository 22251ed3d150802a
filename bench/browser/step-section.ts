/**
 * Section 2: tokens/s of a LoRA training step (forward, backward, clipping, AdamW) in our engine
 * and in the same model written with TF.js ops (bench/tfjs-llama.ts). Both engines get identical
 * weights, including a nonzero LoRA B, and must agree on the loss and the LoRA gradients of one
 * batch before TF.js is timed.
 */
import * as tf from '@tensorflow/tfjs';
import { loadAdapter } from '../../src/adapters/load';
import type { Adapter, AdapterTensors } from '../../src/adapters/types';
import type { TokenBatch } from '../../src/formats/batch';
import type { ModelConfig } from '../../src/formats/hf-config';
import type { AdapterSpec } from '../../src/formats/peft';
import type { GpuRuntime } from '../../src/gpu/runtime';
import { Transformer, type WeightMap } from '../../src/model/transformer';
import { type DeviceBatch, releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { recordLoss } from '../../src/train/step';
import { benchAdapterSpec, BENCH_HYPER, benchTokenIds, medianMs } from '../common';
import { trainerStepMs } from '../engine-bench';
import { benchLoraTensors } from '../lora-weights';
import {
  errorText,
  GRAD_TOLERANCE,
  LOSS_TOLERANCE,
  measure,
  type BenchSizes,
  type Measured,
  type StepCheck,
  type StepResult,
} from '../results';
import { syntheticLlama } from '../synthetic-model';
import { disposeTfBatch, type TfBatch, tfBatch, TfAdamW, TfLoraLlama } from '../tfjs-llama';
import { failOnGpuErrors } from './gpu-errors';
import { startTfjs, tfjsDevice, tfjsSync } from './peers';

interface LossAndGrads {
  readonly loss: number;
  readonly grads: Map<string, Float32Array>;
}

/** Our loss and LoRA gradients of one batch (the adapter's gradients start at zero). */
async function ourLossAndGrads(rt: GpuRuntime, model: Transformer, adapter: Adapter, batch: DeviceBatch): Promise<LossAndGrads> {
  const lossOut = rt.tensor([1], 'check_loss');
  recordLoss(rt, model, adapter, batch, { training: true, seed: 0 }, { withGrad: true, lossOut });
  const [loss] = await rt.read(lossOut);
  rt.release(lossOut);
  const grads = new Map<string, Float32Array>();
  for (const p of adapter.parameters()) grads.set(p.key, await rt.read(p.grad));
  return { loss: loss!, grads };
}

async function tfjsLossAndGrads(model: TfLoraLlama, batch: TfBatch): Promise<LossAndGrads> {
  const { loss, grads } = model.gradients(batch);
  const out = { loss: (await loss.data())[0]!, grads: new Map<string, Float32Array>() };
  for (const [key, g] of grads) out.grads.set(key, (await g.data()) as Float32Array);
  tf.dispose([loss, ...grads.values()]);
  return out;
}

/** max|a − b| / max|b|: the error relative to the reference's largest element. */
export function maxNormRelError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

function compare(ours: LossAndGrads, tfjs: LossAndGrads): StepCheck {
  const lossRel = Math.abs(ours.loss - tfjs.loss) / Math.abs(tfjs.loss);
  let worstGradKey = '';
  let worstGradRel = -1;
  for (const [key, ref] of tfjs.grads) {
    const got = ours.grads.get(key);
    const rel = got && got.length === ref.length ? maxNormRelError(got, ref) : Infinity;
    if (!(rel <= worstGradRel)) [worstGradKey, worstGradRel] = [key, rel];
  }
  let failure: string | null = null;
  if (!(lossRel <= LOSS_TOLERANCE)) {
    failure = `loss differs: ours ${ours.loss}, TF.js ${tfjs.loss} (rel ${lossRel.toExponential(2)} > ${LOSS_TOLERANCE})`;
  } else if (!(worstGradRel <= GRAD_TOLERANCE)) {
    failure = `gradient ${worstGradKey} differs: max-norm rel ${worstGradRel.toExponential(2)} > ${GRAD_TOLERANCE}`;
  }
  return { lossOurs: ours.loss, lossTfjs: tfjs.loss, lossRel, worstGradKey, worstGradRel, failure };
}

async function tfjsStepMs(model: TfLoraLlama, batch: TfBatch, repeats: number): Promise<number> {
  const adamw = new TfAdamW(model.params, BENCH_HYPER);
  try {
    return await medianMs(
      () => {
        const { loss, grads } = model.gradients(batch);
        adamw.update(grads);
        tf.dispose([loss, ...grads.values()]);
      },
      tfjsSync,
      repeats,
    );
  } finally {
    adamw.dispose();
  }
}

interface TfjsRun {
  readonly check: StepCheck | { readonly error: string };
  readonly stepMs: Measured;
}

/** What both engines are given: the same model weights, LoRA tensors and batch. */
interface StepInputs {
  readonly config: ModelConfig;
  readonly weights: WeightMap;
  readonly spec: AdapterSpec;
  readonly lora: AdapterTensors;
  readonly tokens: TokenBatch;
}

function stepInputs(sizes: BenchSizes): StepInputs {
  const { batch: B, seq: S, stepDims: dims } = sizes;
  const { config, weights } = syntheticLlama(dims);
  const spec = benchAdapterSpec('lora', sizes.rank);
  const ids = benchTokenIds(B * S, dims.vocab);
  return { config, weights, spec, lora: benchLoraTensors(spec, config, 7), tokens: { inputIds: ids, labels: ids, batch: B, seq: S } };
}

/** Checks TF.js against our numbers, then times it, or says why it did not. */
async function runTfjs(inputs: StepInputs, ours: LossAndGrads, repeats: number): Promise<TfjsRun> {
  await startTfjs();
  const model = new TfLoraLlama(inputs.config, inputs.weights, inputs.spec, inputs.lora);
  const batch = tfBatch(inputs.tokens, inputs.config.vocabSize);
  try {
    const check = compare(ours, await failOnGpuErrors(tfjsDevice(), () => tfjsLossAndGrads(model, batch)));
    if (check.failure) return { check, stepMs: { error: `not timed: ${check.failure}` } };
    return { check, stepMs: await measure(() => failOnGpuErrors(tfjsDevice(), () => tfjsStepMs(model, batch, repeats))) };
  } finally {
    disposeTfBatch(batch);
    model.dispose();
  }
}

function tokensPerSecond(tokens: number, stepMs: Measured): Measured {
  return 'value' in stepMs ? { value: tokens / (stepMs.value / 1000) } : stepMs;
}

export async function stepSection(rt: GpuRuntime, sizes: BenchSizes, log: (line: string) => void): Promise<StepResult> {
  const inputs = stepInputs(sizes);
  const tokens = sizes.batch * sizes.seq;
  const model = new Transformer(rt, inputs.config, inputs.weights);
  const adapter = loadAdapter(rt, model, inputs.spec, inputs.lora, 'bench LoRA');
  const batch = uploadBatch(rt, inputs.tokens);
  try {
    log('step: our loss and LoRA gradients');
    const oursCheck = await failOnGpuErrors(rt.device, () => ourLossAndGrads(rt, model, adapter, batch));
    log('step: TF.js check and timing');
    const tfjs = await runTfjs(inputs, oursCheck, sizes.repeats).catch((e): TfjsRun => {
      const error = errorText(e);
      return { check: { error }, stepMs: { error } };
    });
    log('step: our timing');
    const ours = await measure(() => failOnGpuErrors(rt.device, () => trainerStepMs(rt, model, adapter, batch, sizes.repeats)));
    return {
      parameters: model.parameterCount,
      trainable: adapter.parameters().reduce((n, p) => n + p.value.numel, 0),
      tokensPerStep: tokens,
      check: tfjs.check,
      ours: tokensPerSecond(tokens, ours),
      tfjs: tokensPerSecond(tokens, tfjs.stepMs),
    };
  } finally {
    releaseBatch(rt, batch);
    adapter.destroy(rt);
    model.destroy();
  }
}
