import { GpuRuntime, type ShaderLibrary } from './runtime';

/** Features used when the adapter offers them; none is required. */
const OPTIONAL_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups'];

export class WebGpuUnavailableError extends Error {
  constructor(reason: string) {
    super(`WebGPU is not available: ${reason}`);
    this.name = 'WebGpuUnavailableError';
  }
}

/**
 * Which limits the device is asked for. 'adapter': the adapter's own storage and workgroup limits
 * (the defaults cap bindings at 128 MiB, far below what a model needs). 'spec-default': none, so
 * the device has exactly WebGPU's default limits (128 MiB per binding, 256 MiB per buffer), as
 * many phones, iPads and integrated GPUs grant; the tests run small devices this way.
 */
export type DeviceLimits = 'adapter' | 'spec-default';

export const DEVICE_LIMITS: readonly DeviceLimits[] = ['adapter', 'spec-default'];

/** Acquires an adapter and a device with the limits asked for and wraps it in a runtime. */
export async function createRuntime(gpu: GPU | undefined, shaders: ShaderLibrary, limits: DeviceLimits = 'adapter'): Promise<GpuRuntime> {
  if (!gpu) throw new WebGpuUnavailableError('this environment has no navigator.gpu');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new WebGpuUnavailableError('no GPU adapter was found');
  const a = adapter.limits;
  const requiredLimits: Record<string, number> =
    limits === 'spec-default'
      ? {}
      : {
          maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
          maxBufferSize: a.maxBufferSize,
          maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
          maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
          maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
          maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
          maxComputeWorkgroupSizeY: a.maxComputeWorkgroupSizeY,
        };
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  device.lost.then((info) => {
    if (info.reason !== 'destroyed') console.error(`WebGPU device lost: ${info.message}`);
  });
  const ai = adapter.info;
  const description = [ai?.vendor, ai?.architecture, ai?.device, ai?.description].filter(Boolean).join(' ') || 'unknown adapter';
  return new GpuRuntime(gpu, device, shaders, {
    description,
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    maxBufferSize: device.limits.maxBufferSize,
    features: [...device.features],
    cpuAdapter: isCpuAdapter(adapter),
  });
}

/** Software rasterisers that implement WebGPU on the CPU, by the names their adapters report. */
const CPU_ADAPTER_NAMES = /\b(swiftshader|llvmpipe|lavapipe|softpipe|warp)\b/i;

/** Whether the adapter runs on the CPU (see GpuInfo.cpuAdapter). */
export function isCpuAdapter(adapter: GPUAdapter): boolean {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  if (info?.isFallbackAdapter) return true;
  const names = [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ');
  return CPU_ADAPTER_NAMES.test(names);
}
