/**
 * Section 1: GFLOP/s of one product at each shape of a training step, in our kernels, in
 * TF.js' WebGPU backend (tf.matMul with the same transpose flags) and in onnxruntime-web's
 * WebGPU execution provider (a one-node MatMul model, bench/onnx-matmul.ts). Every timed run
 * includes reading the product back: that is the one point at which all three engines have
 * certainly submitted and finished their work (ORT's run() may resolve with dispatches still
 * in its command encoder when the output stays on the GPU).
 */
import * as tf from '@tensorflow/tfjs';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-web';
import type { GpuRuntime } from '../../src/gpu/runtime';
import { checkConstantProduct, MATMUL_FILL, type MatmulCase, matmulCases, matmulFlops, medianMs } from '../common';
import { ourMatmulGflops } from '../engine-bench';
import { onnxMatmulModel } from '../onnx-matmul';
import { errorText, measure, type BenchSizes, type MatmulRow, type Measured } from '../results';
import { failOnGpuErrors } from './gpu-errors';
import { configureOrt, startTfjs, tfjsDevice, withConsoleCapture } from './peers';

type Ort = ReturnType<typeof configureOrt>;

async function tfjsMatmulGflops(c: MatmulCase, repeats: number): Promise<number> {
  return failOnGpuErrors(tfjsDevice(), () => timeTfjsMatmul(c, repeats));
}

async function timeTfjsMatmul(c: MatmulCase, repeats: number): Promise<number> {
  const a = tf.fill(c.transA ? [c.K, c.M] : [c.M, c.K], MATMUL_FILL.a);
  const b = tf.fill(c.transB ? [c.N, c.K] : [c.K, c.N], MATMUL_FILL.b);
  let product: tf.Tensor | null = null;
  try {
    const ms = await medianMs(
      () => {
        product = tf.matMul(a, b, c.transA, c.transB);
      },
      async () => {
        const data = await product!.data();
        product!.dispose();
        checkConstantProduct(data as Float32Array, c);
      },
      repeats,
    );
    return matmulFlops(c) / (ms * 1e6);
  } finally {
    tf.dispose([a, b]);
  }
}

/** An input already on ORT's device, so each run uploads nothing. */
function ortGpuInput(ort: Ort, device: GPUDevice, dims: number[], value: number): { tensor: OrtTensor; buffer: GPUBuffer } {
  const count = dims[0]! * dims[1]!;
  const buffer = device.createBuffer({
    size: count * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, new Float32Array(count).fill(value));
  return { tensor: ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims }), buffer };
}

/**
 * A session whose node runs on the WebGPU EP. ORT quietly assigns nodes its EP lacks to the
 * CPU; it says so in a warning, which turns into an error here.
 */
async function ortWebGpuSession(ort: Ort, c: MatmulCase): Promise<InferenceSession> {
  const { value: session, messages } = await withConsoleCapture(() =>
    ort.InferenceSession.create(onnxMatmulModel(c), { executionProviders: ['webgpu'], logSeverityLevel: 2 }),
  );
  const fallback = messages.find((m) => m.includes('not assigned'));
  if (fallback) {
    await session.release();
    throw new Error(`the MatMul node did not run on WebGPU: ${fallback}`);
  }
  return session;
}

async function ortMatmulGflops(ort: Ort, c: MatmulCase, repeats: number): Promise<number> {
  const session = await ortWebGpuSession(ort, c);
  const device = await ort.env.webgpu.device;
  const a = ortGpuInput(ort, device, [c.M, c.K], MATMUL_FILL.a);
  const b = ortGpuInput(ort, device, [c.K, c.N], MATMUL_FILL.b);
  try {
    const ms = await failOnGpuErrors(device, () =>
      medianMs(
        async () => {
          // The output comes back to the CPU (ORT's default), which waits for the GPU.
          const out = await session.run({ A: a.tensor, B: b.tensor });
          checkConstantProduct(out.C!.data as Float32Array, c);
        },
        async () => {},
        repeats,
      ),
    );
    return matmulFlops(c) / (ms * 1e6);
  } finally {
    await session.release();
    a.buffer.destroy();
    b.buffer.destroy();
  }
}

/** Runs a peer only when it started; otherwise every row carries its start-up error. */
function whenStarted(startError: string | null, run: () => Promise<number>): Promise<Measured> {
  return startError ? Promise.resolve({ error: startError }) : measure(run);
}

export async function matmulSection(rt: GpuRuntime, sizes: BenchSizes, log: (line: string) => void): Promise<{ rows: MatmulRow[] }> {
  const tfjsError = await startTfjs().then(() => null, errorText);
  // ORT starts its WebGPU backend with the first session, so its failures show per row.
  const ort = configureOrt();
  const rows: MatmulRow[] = [];
  for (const c of matmulCases(sizes.matmulTokens, sizes.matmulDims, sizes.rank)) {
    log(`matmul ${c.name}`);
    rows.push({
      name: c.name,
      flops: matmulFlops(c),
      ours: await measure(() => failOnGpuErrors(rt.device, () => ourMatmulGflops(rt, c, sizes.repeats, { readBack: true }))),
      tfjs: await whenStarted(tfjsError, () => tfjsMatmulGflops(c, sizes.repeats)),
      ort: await measure(() => ortMatmulGflops(ort, c, sizes.repeats)),
    });
  }
  return { rows };
}
