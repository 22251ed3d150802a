import { createRuntime, type DeviceLimits } from './device';
import type { GpuRuntime } from './runtime';

// Vite inlines every shader file as a string at build time.
const files = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
const byName = new Map(Object.entries(files).map(([path, text]) => [path.split('/').pop()!, text]));

export function browserShaderLibrary(file: string): string {
  const text = byName.get(file);
  if (text === undefined) throw new Error(`shader ${file} is not bundled`);
  return text;
}

/** A runtime on `navigator.gpu` (page or worker). */
export function createBrowserRuntime(limits: DeviceLimits = 'adapter'): Promise<GpuRuntime> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  return createRuntime(gpu, browserShaderLibrary, limits);
}
