import { beforeEach, describe } from 'vitest';
import type { GpuRuntime } from '../../src/gpu/runtime';

/**
 * Row reductions (common_reduce.wgsl) have two implementations: subgroup operations where the
 * device has the 'subgroups' feature, and the workgroup-memory tree everywhere else. Tests of
 * the kernels that use them run `body` once per path. The subgroup leg is skipped, visibly,
 * only on a device without the feature (Dawn's SwiftShader has it, see reduce.test.ts).
 */
export function describeReducePaths(gpu: () => GpuRuntime, body: () => void): void {
  describe.each([
    { path: 'subgroups', on: true },
    { path: 'fallback', on: false },
  ])('$path', ({ on }) => {
    beforeEach((ctx) => {
      const rt = gpu();
      if (on && !rt.device.features.has('subgroups')) ctx.skip("the device lacks 'subgroups'");
      rt.useSubgroups = on;
    });
    body();
  });
}
