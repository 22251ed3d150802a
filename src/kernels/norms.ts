import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { rowGroups, serialRowGroups } from './common';

const rmsForward = defineKernel({
  name: 'rmsnorm-forward', shaders: ['common_reduce.wgsl', 'rmsnorm_forward_io.wgsl', 'rmsnorm_forward.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'storage', 'storage'], uniforms: [['T', 'u32'], ['C', 'u32'], ['eps', 'f32']],
});
const rmsBackward = defineKernel({
  name: 'rmsnorm-backward', shaders: ['common_reduce.wgsl', 'rmsnorm_backward_io.wgsl', 'rmsnorm_backward.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'read', 'read', 'storage'], uniforms: [['T', 'u32'], ['C', 'u32']],
});
// The serial kernels for CPU adapters (GpuRuntime.serialRows), bit-identical to the ones above.
const rmsForwardSerial = defineKernel({
  name: 'rmsnorm-forward-serial', shaders: ['common_reduce_serial.wgsl', 'rmsnorm_forward_io.wgsl', 'rmsnorm_forward_serial.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'storage', 'storage'], uniforms: [['T', 'u32'], ['C', 'u32'], ['eps', 'f32']],
});
const rmsBackwardSerial = defineKernel({
  name: 'rmsnorm-backward-serial', shaders: ['common_reduce_serial.wgsl', 'rmsnorm_backward_io.wgsl', 'rmsnorm_backward_serial.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'read', 'read', 'storage'], uniforms: [['T', 'u32'], ['C', 'u32']],
});
const lnForwardSerial = defineKernel({
  name: 'layernorm-forward-serial', shaders: ['common_reduce_serial.wgsl', 'layernorm_forward_io.wgsl', 'layernorm_forward_serial.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage', 'storage'], uniforms: [['T', 'u32'], ['C', 'u32'], ['eps', 'f32']],
});
const lnBackwardSerial = defineKernel({
  name: 'layernorm-backward-serial', shaders: ['common_reduce_serial.wgsl', 'layernorm_backward_io.wgsl', 'layernorm_backward_serial.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'read', 'read', 'storage'], uniforms: [['T', 'u32'], ['C', 'u32']],
});
const lnForward = defineKernel({
  name: 'layernorm-forward', shaders: ['common_reduce.wgsl', 'layernorm_forward_io.wgsl', 'layernorm_forward.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'storage', 'storage'], uniforms: [['T', 'u32'], ['C', 'u32'], ['eps', 'f32']],
});
const lnBackward = defineKernel({
  name: 'layernorm-backward', shaders: ['common_reduce.wgsl', 'layernorm_backward_io.wgsl', 'layernorm_backward.wgsl'], entryPoint: 'main',
  bindings: ['read', 'read', 'read', 'read', 'read', 'storage'], uniforms: [['T', 'u32'], ['C', 'u32']],
});

/** y = rmsnorm(x) · w over rows of length C; rstd [T] is saved for backward. */
export function rmsnormForward(rt: GpuRuntime, x: Tensor, w: Tensor, y: Tensor, rstd: Tensor, T: number, C: number, eps: number): void {
  const serial = rt.serialRows;
  rt.dispatch(serial ? rmsForwardSerial : rmsForward, {
    bind: [x, w, y, rstd], uniforms: { T, C, eps }, workgroups: serial ? serialRowGroups(T) : rowGroups(T),
  });
}

/** dx = d rmsnorm / dx · dy (+ dres when given: the residual's gradient joins here). */
export function rmsnormBackward(
  rt: GpuRuntime, x: Tensor, w: Tensor, rstd: Tensor, dy: Tensor, dx: Tensor, T: number, C: number, dres?: Tensor,
): void {
  const serial = rt.serialRows;
  rt.dispatch(serial ? rmsBackwardSerial : rmsBackward, {
    bind: [x, w, rstd, dy, dres ?? rt.unused, dx], uniforms: { T, C },
    overrides: { HAS_RESID: dres !== undefined }, workgroups: serial ? serialRowGroups(T) : rowGroups(T),
  });
}

/** y = layernorm(x) · w + b; stats [T, 2] (mean, rstd) saved for backward. */
export function layernormForward(
  rt: GpuRuntime, x: Tensor, w: Tensor, b: Tensor, y: Tensor, stats: Tensor, T: number, C: number, eps: number,
): void {
  const serial = rt.serialRows;
  rt.dispatch(serial ? lnForwardSerial : lnForward, {
    bind: [x, w, b, y, stats], uniforms: { T, C, eps }, workgroups: serial ? serialRowGroups(T) : rowGroups(T),
  });
}

export function layernormBackward(
  rt: GpuRuntime, x: Tensor, w: Tensor, stats: Tensor, dy: Tensor, dx: Tensor, T: number, C: number, dres?: Tensor,
): void {
  const serial = rt.serialRows;
  rt.dispatch(serial ? lnBackwardSerial : lnBackward, {
    bind: [x, w, stats, dy, dres ?? rt.unused, dx], uniforms: { T, C },
    overrides: { HAS_RESID: dres !== undefined }, workgroups: serial ? serialRowGroups(T) : rowGroups(T),
  });
}
