import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadAdapter } from '../../src/adapters/load';
import type { KernelDescriptor } from '../../src/gpu/kernel';
import { type DispatchArgs, GpuRuntime, type KernelProfile } from '../../src/gpu/runtime';
import { Transformer } from '../../src/model/transformer';
import { FullRankTarget } from '../../src/train/full-rank';
import { recordLoss } from '../../src/train/step';
import { releaseBatch, uploadBatch } from '../../src/train/device-batch';
import { adapterTarget } from '../../src/train/target';
import { evaluateLoss, Trainer } from '../../src/train/trainer';
import { checked, useGpu } from '../helpers/gpu';
import { relErr } from '../helpers/ref';
import { ADAPTER_CASES, FULL_CASES, KERNEL_MATRIX, loadCase, SUBSET_CASES, type FixtureCase } from './fixtures';

const gpu = useGpu();
const EVAL = { training: false, seed: 0 };
const CASES = [...ADAPTER_CASES, ...FULL_CASES];

/** The fixture README's tolerances, by check (adamwConditioned: see afterAdamwErr). */
const TOL = { logits: 1e-4, loss: 1e-4, grads: 1e-3, adamwConditioned: 1e-4 } as const;

/**
 * Worst error per profile and check, printed at the end when FIXTURE_ERRORS is set (README, "How it is
 * tested"); 'adamw' is the plain max-norm error after AdamW, which is not asserted.
 */
const worst = new Map<string, Record<string, { err: number; where: string }>>();
function note(profile: string, check: keyof typeof TOL | 'adamw', err: number, where: string): number {
  const row = worst.get(profile) ?? {};
  if (!(row[check] && row[check].err >= err)) row[check] = { err, where };
  worst.set(profile, row);
  return err;
}

/**
 * The parameters after AdamW against the reference, in the max-norm relative to the reference, less each
 * element's share of the first step that comes from the gradient alone. AdamW's first step moves an
 * element by lr · g / (|g| + eps) (m̂ = g and v̂ = g² at step 1), which is ill-conditioned where |g| is
 * within a few eps of 0: there a float32 gradient error far inside the gradients' own tolerance is a
 * sizeable part of a step (README, "How it is tested"). So |step(our g) − step(reference g)| of each
 * element is taken off its difference; that is next to nothing wherever |g| ≫ eps. The later steps,
 * the optimizer kernel and everything else still have to match within the tolerance.
 */
function afterAdamwErr(
  got: Float32Array,
  want: ArrayLike<number>,
  grad0: Float32Array,
  wantGrad0: ArrayLike<number>,
  lr: number,
  eps: number,
): number {
  const step = (g: number) => (lr * g) / (Math.abs(g) + eps);
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!) - Math.abs(step(grad0[i]!) - step(wantGrad0[i]!));
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    ref = Math.max(ref, Math.abs(want[i]!));
  }
  return diff / Math.max(ref, 1e-12);
}

function setup(rt: GpuRuntime, c: FixtureCase) {
  const model = new Transformer(rt, c.model.config, c.model.weights);
  const full = c.adapter === undefined;
  const adapter = full ? null : loadAdapter(rt, model, c.adapter.spec, c.adapter.tensors, c.dir);
  const fullRank = full ? new FullRankTarget(rt, model) : null;
  const target = fullRank ?? adapterTarget(adapter!);
  const batch = uploadBatch(rt, c.batch);
  const a = c.summary.adamw;
  const trainer = () =>
    new Trainer(rt, model, target, {
      lr: a.lr,
      beta1: a.betas[0],
      beta2: a.betas[1],
      eps: a.eps,
      weightDecay: a.weight_decay,
      maxGradNorm: 0,
      seed: 0,
    });
  const done = () => {
    releaseBatch(rt, batch);
    adapter?.destroy(rt);
    fullRank?.destroy();
    model.destroy();
  };
  return { model, adapter, target, batch, trainer, done };
}

type ChoicePoint = 'matmul' | 'subgroups' | 'rows';

/**
 * What a dispatch tells about the profile it ran under, at each choice point of KernelProfile: the
 * matmul kernel with its loads ('square/vec4', 'narrow-m/scalar' …), whether a reduction ran on
 * subgroups, and which row kernel ran.
 */
function variantOf(rt: GpuRuntime, kernel: KernelDescriptor, args: DispatchArgs): Partial<Record<ChoicePoint, string>> {
  const v: Partial<Record<ChoicePoint, string>> = {};
  if (kernel.name.startsWith('matmul-')) {
    const o = args.overrides ?? {};
    let tile = 'square';
    if (kernel.name.startsWith('matmul-direct')) tile = o.WIDE ? 'direct-wide' : 'direct';
    else if (kernel.name.startsWith('matmul-narrow')) tile = o.TRANS_C ? 'narrow-m' : 'narrow-n';
    v.matmul = `${tile}/${kernel.name.endsWith('-vec4') ? 'vec4' : 'scalar'}`;
  }
  if (kernel.shaders.includes('common_reduce.wgsl')) v.subgroups = String(rt.moduleFiles(kernel).includes('common_reduce_subgroups.wgsl'));
  if (/^(attention|rmsnorm|layernorm)-(forward|backward)/.test(kernel.name))
    v.rows = kernel.name.endsWith('-serial') ? 'serial' : 'workgroup';
  return v;
}

/** The variants a profile must have dispatched, over its fixtures, at each choice point. */
function expectedVariants(p: KernelProfile): Record<ChoicePoint, string[]> {
  // 'narrow-m' is the narrow tile on the transposed problem (M ≤ 16: the rank-wide products).
  const tiles = p.matmul === 'tiled' ? ['narrow-m', 'narrow-n', 'square'] : [p.matmul];
  const loads = p.loads === 'vec4' ? ['scalar', 'vec4'] : ['scalar'];
  return {
    matmul: tiles.flatMap((t) => loads.map((l) => `${t}/${l}`)),
    subgroups: [String(p.subgroups)],
    rows: [p.rows],
  };
}

describe.each(KERNEL_MATRIX)('kernel profile $name', ({ name: profileName, profile, cases }) => {
  const seen: Record<ChoicePoint, Set<string>> = { matmul: new Set(), subgroups: new Set(), rows: new Set() };
  let restore: KernelProfile | undefined;
  let supported = true;
  beforeAll(() => {
    const rt = gpu();
    // The subgroup profiles are skipped, visibly, only on a device without them (SwiftShader has them).
    supported = !profile.subgroups || rt.device.features.has('subgroups');
    if (supported) restore = rt.setProfile(profile);
    vi.spyOn(rt, 'dispatch').mockImplementation((kernel, args) => {
      for (const [k, v] of Object.entries(variantOf(rt, kernel, args))) seen[k as keyof typeof seen].add(v);
      GpuRuntime.prototype.dispatch.call(rt, kernel, args);
    });
  });
  beforeEach((ctx) => {
    if (!supported) ctx.skip("the device lacks 'subgroups'");
  });
  afterAll(() => {
    const rt = gpu();
    vi.mocked(rt.dispatch).mockRestore();
    if (restore) rt.setProfile(restore);
  });

  describe.each(cases === 'all' ? CASES : SUBSET_CASES)('golden fixture %s', (name) => {
    it('logits (with and without the adapter) and the loss match PyTorch within 1e-4', async () => {
      const rt = gpu();
      const c = await loadCase(name);
      const { model, adapter, batch, done } = setup(rt, c);
      const lossOut = rt.tensor([1], 'loss');
      const [logits, baseLogits] = await checked(rt, () => [
        recordLoss(rt, model, adapter, batch, EVAL, { withGrad: false, lossOut, keepLogits: true })!,
        recordLoss(rt, model, null, batch, EVAL, { withGrad: false, lossOut, keepLogits: true })!,
      ]);
      const expected = c.expected('logits');
      const e1 = relErr(await rt.read(logits), expected.get('logits')!.data);
      const e2 = relErr(await rt.read(baseLogits), expected.get('base_logits')!.data);
      expect(note(profileName, 'logits', e1, `${name} logits`)).toBeLessThan(TOL.logits);
      expect(note(profileName, 'logits', e2, `${name} base_logits`)).toBeLessThan(TOL.logits);
      const loss = await evaluateLoss(rt, model, adapter, batch);
      expect(note(profileName, 'loss', Math.abs(loss - c.summary.loss) / c.summary.loss, `${name} loss`)).toBeLessThan(TOL.loss);
      rt.release(logits, baseLogits, lossOut);
      done();
    });

    it('gradients of every trainable tensor match within 1e-3', async () => {
      const rt = gpu();
      const c = await loadCase(name);
      const { target, batch, trainer: makeTrainer, done } = setup(rt, c);
      const trainer = makeTrainer();
      await checked(rt, () => trainer.recordGradients(batch));
      const expected = c.expected('grads');
      expect(target.params.map((p) => p.key).sort()).toEqual([...c.summary.trainable].sort());
      for (const p of target.params) {
        const err = relErr(await rt.read(p.grad), expected.get(p.key)!.data);
        expect(note(profileName, 'grads', err, `${name} ${p.key}`), p.key).toBeLessThan(TOL.grads);
      }
      trainer.destroy();
      done();
    });

    it('AdamW steps reproduce the losses and the parameters within 1e-4', async () => {
      const rt = gpu();
      const c = await loadCase(name);
      const { model, adapter, target, batch, trainer: makeTrainer, done } = setup(rt, c);
      const trainer = makeTrainer();
      const a = c.summary.adamw;
      const grad0 = new Map<string, Float32Array>();
      for (let s = 0; s < a.steps; s++) {
        const loss = await trainer.trainStep(batch);
        const want = c.summary.adamw_step_losses[s]!;
        expect(note(profileName, 'loss', Math.abs(loss - want) / want, `${name} step ${s} loss`)).toBeLessThan(TOL.loss);
        // The first step's gradients (AdamW leaves them in place).
        if (s === 0) for (const p of target.params) grad0.set(p.key, await rt.read(p.grad));
      }
      const after = await evaluateLoss(rt, model, adapter, batch);
      const want = c.summary.loss_after_adamw;
      expect(note(profileName, 'loss', Math.abs(after - want) / want, `${name} loss after AdamW`)).toBeLessThan(TOL.loss);
      const expected = c.expected('after_adamw');
      const grads = c.expected('grads');
      for (const p of target.params) {
        const value = await rt.read(p.value);
        const want = expected.get(p.key)!.data;
        note(profileName, 'adamw', relErr(value, want), `${name} ${p.key}`);
        const err = afterAdamwErr(value, want, grad0.get(p.key)!, grads.get(p.key)!.data, a.lr, a.eps);
        expect(note(profileName, 'adamwConditioned', err, `${name} ${p.key}`), p.key).toBeLessThan(TOL.adamwConditioned);
      }
      trainer.destroy();
      done();
    });
  });

  it('ran the variants the profile names, and only those', () => {
    const got = Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, [...v].sort()]));
    expect(got).toEqual(expectedVariants(profile));
  });
});

afterAll(() => {
  if (!process.env.FIXTURE_ERRORS) return;
  const checks = ['logits', 'loss', 'grads', 'adamw', 'adamwConditioned'] as const;
  const lines = [...worst].flatMap(([p, row]) => [
    p,
    ...checks.map(
      (k) => `  ${k.padEnd(17)} ${row[k]?.err.toExponential(1) ?? '-'} ${k === 'adamw' ? '' : `of ${TOL[k]}`}  ${row[k]?.where ?? ''}`,
    ),
  ]);
  console.log(lines.join('\n'));
});
