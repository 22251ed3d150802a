import type { DeviceLimits } from '../gpu/device';
import { createNodeRuntime } from '../gpu/node';
import { CPU_PROFILE, GPU_PROFILE, type GpuRuntime } from '../gpu/runtime';
import type { Flags, KernelChoice } from './args';

/** What every command's runtime is made from: --device-limits and --kernels. */
export interface RuntimeChoice {
  readonly limits: DeviceLimits;
  readonly kernels: KernelChoice;
}

/** Read before any file, so that a bad value is the first thing said. */
export function runtimeChoice(flags: Flags): RuntimeChoice {
  return { limits: flags.deviceLimits(), kernels: flags.kernels() };
}

/** A Dawn runtime with the limits and kernel profile asked for ('gpu' on a CPU adapter forces the GPU kernels). */
export async function cliRuntime(choice: RuntimeChoice): Promise<GpuRuntime> {
  const rt = await createNodeRuntime(choice.limits);
  if (choice.kernels === 'cpu') rt.setProfile(CPU_PROFILE);
  // Subgroups only where the device has them: setProfile refuses them otherwise.
  if (choice.kernels === 'gpu') rt.setProfile({ ...GPU_PROFILE, subgroups: GPU_PROFILE.subgroups && rt.device.features.has('subgroups') });
  return rt;
}
