import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { createNodeRuntime } from '../../src/gpu/node';
import type { GpuRuntime } from '../../src/gpu/runtime';

/**
 * One real WebGPU device (Dawn; SwiftShader on a machine without a GPU) per test file. A test
 * that finds no device fails: it never passes or skips silently. Errors that escape the error
 * scopes (uncaptured) fail the test that was running.
 */
export function useGpu(): () => GpuRuntime {
  let rt: GpuRuntime | undefined;
  const uncaptured: string[] = [];
  beforeAll(async () => {
    rt = await createNodeRuntime();
    rt.device.addEventListener('uncapturederror', (e) => uncaptured.push((e as GPUUncapturedErrorEvent).error.message));
  });
  afterEach(() => {
    expect(uncaptured.splice(0)).toEqual([]);
  });
  afterAll(() => rt?.destroy());
  return () => {
    if (!rt) throw new Error('no WebGPU device');
    return rt;
  };
}

/**
 * Records GPU work inside validation, out-of-memory and internal error scopes, submits it, and
 * fails the test on any error. The work must only record: Dawn's node binding aborts the
 * process when a buffer is mapped while an error scope is open, so read back afterwards.
 */
export async function checked<T>(rt: GpuRuntime, record: () => T): Promise<T> {
  const scopes: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];
  for (const s of scopes) rt.device.pushErrorScope(s);
  let result: T;
  try {
    result = record();
  } finally {
    rt.flush();
    const errors = [];
    for (let i = 0; i < scopes.length; i++) errors.push(await rt.device.popErrorScope());
    for (const e of errors) expect(e?.message ?? null).toBeNull();
  }
  return result;
}
