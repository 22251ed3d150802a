import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { elementGroups } from './common';

const adamwKernel = defineKernel({
  name: 'adamw',
  shaders: ['common_grid.wgsl', 'adamw.wgsl'],
  entryPoint: 'main',
  bindings: ['storage', 'read', 'storage', 'storage', 'read'],
  uniforms: [
    ['n', 'u32'],
    ['lr', 'f32'],
    ['beta1', 'f32'],
    ['beta2', 'f32'],
    ['one_minus_beta1', 'f32'],
    ['one_minus_beta2', 'f32'],
    ['eps', 'f32'],
    ['wd', 'f32'],
    ['bc1', 'f32'],
    ['bc2_sqrt', 'f32'],
  ],
});
const sumSquaresKernel = defineKernel({
  name: 'sum-squares',
  shaders: ['sum_squares.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'storage'],
  uniforms: [
    ['n', 'u32'],
    ['slot', 'u32'],
  ],
});
const clipScaleKernel = defineKernel({
  name: 'clip-scale',
  shaders: ['clip_scale.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'storage'],
  uniforms: [
    ['count', 'u32'],
    ['max_norm', 'f32'],
  ],
});

export interface AdamWHyper {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

/** One AdamW update of p (step counts from 1); gscale[0] scales the gradient (clipping). */
export function adamwStep(rt: GpuRuntime, p: Tensor, g: Tensor, m: Tensor, v: Tensor, gscale: Tensor, h: AdamWHyper, step: number): void {
  rt.dispatch(adamwKernel, {
    bind: [p, g, m, v, gscale],
    uniforms: {
      n: p.numel,
      lr: h.lr,
      beta1: h.beta1,
      beta2: h.beta2,
      one_minus_beta1: 1 - h.beta1,
      one_minus_beta2: 1 - h.beta2,
      eps: h.eps,
      wd: h.weightDecay,
      bc1: 1 - h.beta1 ** step,
      bc2_sqrt: Math.sqrt(1 - h.beta2 ** step),
    },
    workgroups: elementGroups(p.numel),
  });
}

/**
 * Global gradient norm over all tensors and the clipping factor, computed on the GPU:
 * gscale[0] = min(1, maxNorm / (‖g‖ + 1e-6)) (1 when maxNorm ≤ 0), gscale[1] = ‖g‖.
 */
export function gradNormScale(rt: GpuRuntime, grads: readonly Tensor[], partials: Tensor, gscale: Tensor, maxNorm: number): void {
  for (const [slot, g] of grads.entries())
    rt.dispatch(sumSquaresKernel, { bind: [g, partials], uniforms: { n: g.numel, slot }, workgroups: [1] });
  rt.dispatch(clipScaleKernel, { bind: [partials, gscale], uniforms: { count: grads.length, max_norm: maxNorm }, workgroups: [1] });
}
