import { defineKernel, type KernelDescriptor } from '../gpu/kernel';
import type { DispatchArgs, GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { rowGroups, serialRowGroups } from './common';

type Uniforms = KernelDescriptor['uniforms'];
const FORWARD_UNIFORMS: Uniforms = [
  ['T', 'u32'],
  ['C', 'u32'],
  ['eps', 'f32'],
];
const BACKWARD_UNIFORMS: Uniforms = [
  ['T', 'u32'],
  ['C', 'u32'],
];
/** x, w, stats, dy, dres → dx (both norms' backward). */
const BACKWARD_BINDINGS = ['read', 'read', 'read', 'read', 'read', 'storage'] as const;

/**
 * A norm kernel (`file.wgsl`, one 64-thread workgroup per row) and its serial twin for CPU
 * adapters (`file_serial.wgsl`, one row per invocation, bit-identical), both after the
 * uniforms and bindings they share in `file_io.wgsl`.
 */
interface RowKernels {
  readonly workgroup: KernelDescriptor;
  readonly serial: KernelDescriptor;
}

function rowKernels(name: string, file: string, bindings: KernelDescriptor['bindings'], uniforms: Uniforms): RowKernels {
  const io = `${file}_io.wgsl`;
  return {
    workgroup: defineKernel({ name, shaders: ['common_reduce.wgsl', io, `${file}.wgsl`], entryPoint: 'main', bindings, uniforms }),
    serial: defineKernel({
      name: `${name}-serial`,
      shaders: ['common_reduce_serial.wgsl', io, `${file}_serial.wgsl`],
      entryPoint: 'main',
      bindings,
      uniforms,
    }),
  };
}

const rmsForward = rowKernels('rmsnorm-forward', 'rmsnorm_forward', ['read', 'read', 'storage', 'storage'], FORWARD_UNIFORMS);
const rmsBackward = rowKernels('rmsnorm-backward', 'rmsnorm_backward', BACKWARD_BINDINGS, BACKWARD_UNIFORMS);
const lnForward = rowKernels('layernorm-forward', 'layernorm_forward', ['read', 'read', 'read', 'storage', 'storage'], FORWARD_UNIFORMS);
const lnBackward = rowKernels('layernorm-backward', 'layernorm_backward', BACKWARD_BINDINGS, BACKWARD_UNIFORMS);

/** T rows through the runtime's choice of the twins (KernelProfile.rows). */
function dispatchRows(rt: GpuRuntime, kernels: RowKernels, T: number, args: Omit<DispatchArgs, 'workgroups'>): void {
  const serial = rt.profile.rows === 'serial';
  rt.dispatch(serial ? kernels.serial : kernels.workgroup, { ...args, workgroups: serial ? serialRowGroups(T) : rowGroups(T) });
}

/**
 * y = rmsnorm(x) · (w + weightOffset) over rows of length C; rstd [T] is saved for backward.
 * Gemma's norms scale by (1 + w): weightOffset 1.
 */
export function rmsnormForward(
  rt: GpuRuntime,
  x: Tensor,
  w: Tensor,
  y: Tensor,
  rstd: Tensor,
  T: number,
  C: number,
  eps: number,
  weightOffset = 0,
): void {
  dispatchRows(rt, rmsForward, T, { bind: [x, w, y, rstd], uniforms: { T, C, eps }, overrides: { W_OFFSET: weightOffset } });
}

/** dx = d rmsnorm / dx · dy (+ dres when given: the residual's gradient joins here). */
export function rmsnormBackward(
  rt: GpuRuntime,
  x: Tensor,
  w: Tensor,
  rstd: Tensor,
  dy: Tensor,
  dx: Tensor,
  T: number,
  C: number,
  dres?: Tensor,
  weightOffset = 0,
): void {
  dispatchRows(rt, rmsBackward, T, {
    bind: [x, w, rstd, dy, dres ?? rt.unused, dx],
    uniforms: { T, C },
    overrides: { HAS_RESID: dres !== undefined, W_OFFSET: weightOffset },
  });
}

/** y = layernorm(x) · w + b; stats [T, 2] (mean, rstd) saved for backward. */
export function layernormForward(
  rt: GpuRuntime,
  x: Tensor,
  w: Tensor,
  b: Tensor,
  y: Tensor,
  stats: Tensor,
  T: number,
  C: number,
  eps: number,
): void {
  dispatchRows(rt, lnForward, T, { bind: [x, w, b, y, stats], uniforms: { T, C, eps } });
}

export function layernormBackward(
  rt: GpuRuntime,
  x: Tensor,
  w: Tensor,
  stats: Tensor,
  dy: Tensor,
  dx: Tensor,
  T: number,
  C: number,
  dres?: Tensor,
): void {
  dispatchRows(rt, lnBackward, T, {
    bind: [x, w, stats, dy, dres ?? rt.unused, dx],
    uniforms: { T, C },
    overrides: { HAS_RESID: dres !== undefined },
  });
}
