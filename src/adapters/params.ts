import type { GpuRuntime } from '../gpu/runtime';
import type { TrainableParam } from './types';

/** A trainable tensor and its zeroed gradient buffer, under its PEFT key. */
export function trainableParam(rt: GpuRuntime, key: string, shape: readonly number[], data: Float32Array): TrainableParam {
  return { key, value: rt.tensor(shape, key, data), grad: rt.zeros(shape, `${key}.grad`) };
}

/** Reads every parameter back as PEFT tensors. */
export async function readParams(
  rt: GpuRuntime,
  params: readonly TrainableParam[],
  into = new Map<string, { shape: number[]; data: Float32Array }>(),
): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  for (const p of params) into.set(p.key, { shape: [...p.value.shape], data: await rt.read(p.value) });
  return into;
}

export function releaseParams(rt: GpuRuntime, params: readonly TrainableParam[]): void {
  for (const p of params) rt.release(p.value, p.grad);
}
