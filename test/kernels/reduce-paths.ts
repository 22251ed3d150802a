import { beforeEach, describe } from 'vitest';
import type { GpuRuntime } from '../../src/gpu/runtime';

/**
 * Row reductions (common_reduce.wgsl) have two implementations: subgroup operations where the
 * device has the 'subgroups' feature, and the workgroup-memory tree everywhere else. Tests of
 * the kernels that use them run `body` once per path. The subgroup leg is skipped, visibly,
 * only on a device without the feature (Dawn's SwiftShader has it, see reduce.test.ts).
 * Kernels with serial variants (KernelProfile.rows 'serial': one row per invocation, for CPU
 * adapters) pass `{ serial: true }` for a third leg that runs those.
 */
export function describeReducePaths(gpu: () => GpuRuntime, body: () => void, opts: { serial?: boolean } = {}): void {
  const paths = [
    { path: 'subgroups', subgroups: true, serial: false },
    { path: 'fallback', subgroups: false, serial: false },
    ...(opts.serial ? [{ path: 'serial', subgroups: false, serial: true }] : []),
  ];
  describe.each(paths)('$path', ({ subgroups, serial }) => {
    beforeEach((ctx) => {
      const rt = gpu();
      if (subgroups && !rt.device.features.has('subgroups')) ctx.skip("the device lacks 'subgroups'");
      rt.setProfile({ subgroups, rows: serial ? 'serial' : 'workgroup' });
    });
    body();
  });
}
