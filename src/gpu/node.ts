import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRuntime, type DeviceLimits, WebGpuUnavailableError } from './device';
import type { GpuRuntime } from './runtime';

const SHADER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shaders');
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Reads `shaders/*.wgsl` from disk (cached). */
export function nodeShaderLibrary(): (file: string) => string {
  const cache = new Map<string, string>();
  return (file) => {
    let text = cache.get(file);
    if (text === undefined) {
      text = readFileSync(join(SHADER_DIR, file), 'utf8');
      cache.set(file, text);
    }
    return text;
  };
}

/**
 * A runtime on Dawn's `webgpu` package. On a machine without a GPU driver, Vulkan falls back
 * to SwiftShader from Debian's chromium package when no ICD was chosen explicitly.
 */
export async function createNodeRuntime(limits: DeviceLimits = 'adapter'): Promise<GpuRuntime> {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  // Without it the Vulkan loader prints an 'XDG_RUNTIME_DIR is invalid' line per device on
  // headless machines; it only needs a writable directory.
  process.env.XDG_RUNTIME_DIR ??= tmpdir();
  let gpu: GPU;
  try {
    const webgpu = await import('webgpu');
    Object.assign(globalThis, webgpu.globals);
    gpu = webgpu.create([]) as GPU;
  } catch (e) {
    throw new WebGpuUnavailableError(`the 'webgpu' package could not be loaded (${(e as Error).message})`);
  }
  return createRuntime(gpu, nodeShaderLibrary(), limits);
}
