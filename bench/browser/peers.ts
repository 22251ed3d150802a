/**
 * Starting the two peer engines on this page's WebGPU adapter, from files the dev server serves
 * out of node_modules (nothing is fetched from elsewhere).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import * as ort from 'onnxruntime-web';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';

/**
 * Runs `run` while keeping a copy of what it logs as warnings and errors: both peers report
 * some failures only there.
 */
export async function withConsoleCapture<T>(run: () => Promise<T>): Promise<{ value: T; messages: string[] }> {
  const messages: string[] = [];
  const original = { warn: console.warn, error: console.error };
  const capture =
    (log: (...args: unknown[]) => void) =>
    (...args: unknown[]) => {
      messages.push(args.map(String).join(' '));
      log(...args);
    };
  console.warn = capture(original.warn);
  console.error = capture(original.error);
  try {
    return { value: await run(), messages };
  } finally {
    Object.assign(console, original);
  }
}

/** TF.js on its WebGPU backend; setBackend returns false on failure and logs the reason. */
export async function startTfjs(): Promise<void> {
  const { value: started, messages } = await withConsoleCapture(() => tf.setBackend('webgpu'));
  if (!started) throw new Error(`tf.setBackend('webgpu') failed${messages.length ? `: ${messages.join('; ')}` : ''}`);
  await tf.ready();
}

function tfjsBackend(): WebGPUBackend {
  return tf.backend() as WebGPUBackend;
}

/** The device TF.js runs on (after startTfjs). */
export function tfjsDevice(): GPUDevice {
  return tfjsBackend().device;
}

/**
 * Submits what TF.js recorded and waits until its device finished it, the way its own read-back
 * does: submitQueue alone neither creates a missing encoder nor ends an open compute pass.
 */
export async function tfjsSync(): Promise<void> {
  const backend = tfjsBackend();
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  await backend.device.queue.onSubmittedWorkDone();
}

/**
 * onnxruntime-web's WebGPU execution provider comes with its JSEP build; its wasm binary is
 * served by Vite from node_modules. One thread: threads need a cross-origin-isolated page, and
 * the work under test runs on the GPU anyway.
 */
export function configureOrt(): typeof ort {
  ort.env.wasm.wasmPaths = { wasm: ortWasmUrl };
  ort.env.wasm.numThreads = 1;
  return ort;
}
