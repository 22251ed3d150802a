import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { elementGroups } from './common';

const addKernel = defineKernel({
  name: 'add',
  shaders: ['common_grid.wgsl', 'add.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'storage'],
  uniforms: [['n', 'u32']],
});

/** out = a + b */
export function add(rt: GpuRuntime, a: Tensor, b: Tensor, out: Tensor): void {
  rt.dispatch(addKernel, { bind: [a, b, out], uniforms: { n: out.numel }, workgroups: elementGroups(out.numel) });
}

const gatedForwardKernel = defineKernel({
  name: 'gated-forward',
  shaders: ['common_grid.wgsl', 'gelu.wgsl', 'gated_forward.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'storage'],
  uniforms: [['n', 'u32']],
});
const gatedBackwardKernel = defineKernel({
  name: 'gated-backward',
  shaders: ['common_grid.wgsl', 'gelu.wgsl', 'gated_backward.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage', 'storage'],
  uniforms: [['n', 'u32']],
});

/** The gated MLP's activation: SwiGLU (silu, Llama and Qwen) or GeGLU (gelu_tanh, Gemma). */
export type GatedActivation = 'silu' | 'gelu_tanh';

/** h = act(gate) · up */
export function gatedForward(rt: GpuRuntime, act: GatedActivation, gate: Tensor, up: Tensor, h: Tensor): void {
  rt.dispatch(gatedForwardKernel, {
    bind: [gate, up, h],
    uniforms: { n: h.numel },
    overrides: { GELU: act === 'gelu_tanh' },
    workgroups: elementGroups(h.numel),
  });
}

export function gatedBackward(
  rt: GpuRuntime,
  act: GatedActivation,
  gate: Tensor,
  up: Tensor,
  dh: Tensor,
  dgate: Tensor,
  dup: Tensor,
): void {
  rt.dispatch(gatedBackwardKernel, {
    bind: [gate, up, dh, dgate, dup],
    uniforms: { n: dh.numel },
    overrides: { GELU: act === 'gelu_tanh' },
    workgroups: elementGroups(dh.numel),
  });
}

const geluForwardKernel = defineKernel({
  name: 'gelu-forward',
  shaders: ['common_grid.wgsl', 'gelu.wgsl', 'gelu_forward.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'storage'],
  uniforms: [['n', 'u32']],
});
const geluBackwardKernel = defineKernel({
  name: 'gelu-backward',
  shaders: ['common_grid.wgsl', 'gelu.wgsl', 'gelu_backward.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'storage'],
  uniforms: [['n', 'u32']],
});

/** y = gelu_tanh(x) */
export function geluForward(rt: GpuRuntime, x: Tensor, y: Tensor): void {
  rt.dispatch(geluForwardKernel, { bind: [x, y], uniforms: { n: y.numel }, workgroups: elementGroups(y.numel) });
}

export function geluBackward(rt: GpuRuntime, x: Tensor, dy: Tensor, dx: Tensor): void {
  rt.dispatch(geluBackwardKernel, { bind: [x, dy, dx], uniforms: { n: dx.numel }, workgroups: elementGroups(dx.numel) });
}

const dropoutKernel = defineKernel({
  name: 'dropout',
  shaders: ['common_grid.wgsl', 'common_hash.wgsl', 'dropout.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'storage'],
  uniforms: [
    ['n', 'u32'],
    ['p', 'f32'],
    ['seed', 'u32'],
    ['beta', 'f32'],
  ],
});

/**
 * out = dropout(x) (+ beta·out). The mask depends only on (seed, index), so the backward pass
 * calls this again with the same seed on the gradient.
 */
export function dropout(rt: GpuRuntime, x: Tensor, out: Tensor, p: number, seed: number, beta = 0): void {
  rt.dispatch(dropoutKernel, {
    bind: [x, out],
    uniforms: { n: x.numel, p, seed: seed >>> 0, beta },
    workgroups: elementGroups(x.numel),
  });
}
