/**
 * `npm run bench`: kernel and training-step throughput on this machine's WebGPU (Dawn in Node).
 * Not a test: it prints numbers, it asserts nothing. Compare within one run (ratios); absolute
 * times depend on the adapter (SwiftShader on a CPU is ~1000× slower than a real GPU).
 *   --tokens N     rows of the matmul shapes (default 512: batch 4 × sequence 128)
 *   --step-seq N   sequence length of the timed training steps (default 64, batch 1)
 *   --repeats N    timed repetitions (default 3)
 */
import { createAdapter } from '../src/adapters/load';
import type { AdapterSpec } from '../src/formats/peft';
import { createNodeRuntime } from '../src/gpu/node';
import type { GpuRuntime } from '../src/gpu/runtime';
import { matmul, type MatmulArgs } from '../src/kernels/matmul';
import { Transformer } from '../src/model/transformer';
import { releaseBatch, uploadBatch } from '../src/train/device-batch';
import { recordLoss } from '../src/train/step';
import { Trainer } from '../src/train/trainer';
import { syntheticLlama } from './synthetic-model';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const TOKENS = flag('tokens', 512);
const STEP_SEQ = flag('step-seq', 64);
const REPEATS = flag('repeats', 3);
// ~21M parameters: hidden 512, 6 layers, intermediate 1408, vocabulary 4096 (tied).
const DIMS = { hidden: 512, layers: 6, heads: 8, kvHeads: 8, intermediate: 1408, vocab: 4096, maxPositions: 512 };

async function timeIt(rt: GpuRuntime, record: () => void, repeats: number): Promise<number> {
  record(); // warm-up: compiles pipelines and fills the buffer pool
  await rt.sync();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    record();
    await rt.sync();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

interface MatmulCase { readonly name: string; readonly M: number; readonly N: number; readonly K: number; readonly transA?: boolean; readonly transB?: boolean }

function matmulCases(T: number): MatmulCase[] {
  const { hidden: H, intermediate: I, vocab: V } = DIMS;
  return [
    { name: 'X·Wᵀ  attention (T×H×H)', M: T, N: H, K: H, transB: true },
    { name: 'X·Wᵀ  gate/up   (T×I×H)', M: T, N: I, K: H, transB: true },
    { name: 'X·Wᵀ  down      (T×H×I)', M: T, N: H, K: I, transB: true },
    { name: 'X·Wᵀ  lm head   (T×V×H)', M: T, N: V, K: H, transB: true },
    { name: 'dY·W  attention (T×H×H)', M: T, N: H, K: H },
    { name: 'dY·W  down      (T×I×H)', M: T, N: I, K: H },
    { name: 'dYᵀ·X dW attn   (H×H×T)', M: H, N: H, K: T, transA: true },
    { name: 'dYᵀ·X dW up     (I×H×T)', M: I, N: H, K: T, transA: true },
    { name: 'LoRA x·Aᵀ       (T×8×H)', M: T, N: 8, K: H, transB: true },
  ];
}

async function benchMatmul(rt: GpuRuntime): Promise<void> {
  console.log(`\nmatmul at the shapes of a ~21M-parameter Llama, T = ${TOKENS} tokens (median of ${REPEATS})`);
  console.log('shape'.padEnd(28), 'vec4 GFLOP/s'.padStart(13), 'scalar GFLOP/s'.padStart(15));
  for (const c of matmulCases(TOKENS)) {
    const a = rt.tensor([c.M * c.K], 'a', new Float32Array(c.M * c.K).fill(0.01));
    const b = rt.tensor([c.K * c.N], 'b', new Float32Array(c.K * c.N).fill(0.02));
    const out = rt.tensor([c.M * c.N], 'c');
    const flops = 2 * c.M * c.N * c.K;
    const rate = async (scalar: boolean) => {
      const args: MatmulArgs = { a, b, c: out, M: c.M, N: c.N, K: c.K, transA: c.transA, transB: c.transB, scalar };
      const ms = await timeIt(rt, () => matmul(rt, args), REPEATS);
      return flops / (ms * 1e6);
    };
    const [vec4, scalar] = [await rate(false), await rate(true)];
    console.log(c.name.padEnd(28), vec4.toFixed(2).padStart(13), scalar.toFixed(2).padStart(15));
    rt.release(a, b, out);
  }
}

function spec(method: AdapterSpec['method']): AdapterSpec {
  return {
    method, rank: 8, alpha: 16, rslora: false, dropout: 0, fanInFanOut: false, dInitial: 0.1,
    projectionPrngKey: 0, saveProjection: true, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
  };
}

async function benchSteps(rt: GpuRuntime): Promise<void> {
  const { config, weights } = syntheticLlama(DIMS);
  const model = new Transformer(rt, config, weights);
  const S = STEP_SEQ;
  const ids = Int32Array.from({ length: S }, (_, i) => (i * 7919) % DIMS.vocab);
  const batch = uploadBatch(rt, { inputIds: ids, labels: ids, batch: 1, seq: S });
  const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1, seed: 0 };
  console.log(`\ntraining step, ${(model.parameterCount / 1e6).toFixed(1)}M-parameter Llama, batch 1 × ${S} tokens, rank 8 on q,k,v,o (median of ${REPEATS})`);
  const lossOut = rt.tensor([1], 'loss');
  const frozen = await timeIt(rt, () => {
    recordLoss(rt, model, null, batch, { training: true, seed: 0 }, { withGrad: true, lossOut });
  }, REPEATS);
  console.log('frozen model forward + backward'.padEnd(36), `${frozen.toFixed(0).padStart(7)} ms`, '  1.00×');
  const times: Record<string, number> = {};
  for (const method of ['lora', 'dora', 'vera'] as const) {
    const adapter = await createAdapter(rt, model, spec(method), 1);
    const trainer = new Trainer(rt, model, adapter, hyper);
    const ms = await timeIt(rt, () => {
      trainer.recordGradients(batch);
      trainer.recordUpdate(hyper.lr);
    }, REPEATS);
    times[method] = ms;
    const vsLora = method === 'lora' ? '' : `   (${(ms / times.lora).toFixed(2)}× LoRA)`;
    console.log(`${method.toUpperCase()} step (fwd + bwd + AdamW)`.padEnd(36), `${ms.toFixed(0).padStart(7)} ms`, `  ${(ms / frozen).toFixed(2)}×${vsLora}`);
    trainer.destroy();
    adapter.destroy(rt);
  }
  console.log(`peak GPU buffer bytes from the pool: ${(rt.pool.peakBytes / 2 ** 20).toFixed(1)} MiB`);
  rt.release(lossOut);
  releaseBatch(rt, batch);
  model.destroy();
}

async function main(): Promise<void> {
  const rt = await createNodeRuntime();
  console.log(`adapter: ${rt.info.description}; features: ${rt.info.features.join(', ')}`);
  await benchMatmul(rt);
  await benchSteps(rt);
  rt.destroy();
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
