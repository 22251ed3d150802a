import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBatch, type TokenBatch } from '../../src/formats/batch';
import type { ModelFolder } from '../../src/formats/model-folder';
import { readAdapterFolder, readModelFolder, type AdapterFolder } from '../../src/formats/node-fs';
import { parseSafetensors, type TensorEntry } from '../../src/formats/safetensors';
import { CPU_PROFILE, GPU_PROFILE, type KernelProfile } from '../../src/gpu/runtime';

/** The golden fixtures beside the project root (../shared/fixtures), never copied or edited. */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'fixtures');

export const ADAPTER_CASES = [
  'llama-lora-qv',
  'llama-lora-all-rslora',
  'llama-dora',
  'llama-vera',
  'gpt2-lora',
  'gpt2-dora',
  'gpt2-vera',
  'qwen2-lora-bias',
  'qwen3-dora',
  'gemma3-lora',
  'llama3-rope-vera',
] as const;

export interface Summary {
  loss: number;
  trainable: string[];
  adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number; steps: number };
  adamw_step_losses: number[];
  loss_after_adamw: number;
}

export const FULL_CASES = ['llama-full', 'gpt2-full', 'qwen2-full', 'qwen3-full', 'gemma3-full'] as const;

/**
 * The kernel profiles the golden fixtures run on (test/engine/fixtures.test.ts), forced on whatever
 * adapter the suite has, SwiftShader included: a CPU adapter's default and a GPU's on every fixture;
 * a GPU's without subgroups (the default where a browser lacks them) and the 16×16 direct block
 * (which the CPU default takes only at real model shapes, never at the fixtures') on SUBSET_CASES.
 * Each profile also runs every matmul kernel with scalar loads: some fixture strides and offsets are
 * not multiples of 4 (vocab 67, head_dim 12), and the test checks that each kernel met both kinds.
 */
export const KERNEL_MATRIX: readonly { readonly name: string; readonly profile: KernelProfile; readonly cases: 'all' | 'subset' }[] = [
  { name: 'cpu', profile: CPU_PROFILE, cases: 'all' },
  { name: 'gpu', profile: GPU_PROFILE, cases: 'all' },
  { name: 'gpu-no-subgroups', profile: { ...GPU_PROFILE, subgroups: false }, cases: 'subset' },
  { name: 'cpu-wide-blocks', profile: { ...CPU_PROFILE, matmul: 'direct-wide' }, cases: 'subset' },
];

/**
 * Fixtures for the less-used profiles, between them every kernel the engine has and every matmul
 * kernel with both loads: DoRA, RMSNorm and grouped-query attention (llama-dora); LayerNorm, GELU,
 * GPT-2's fused Conv1D, biases and rank 2, whose rank-wide products are the only ones with strides not
 * a multiple of 4 (gpt2-dora); VeRA's sliced shared matrices and a longer sequence (llama3-rope-vera);
 * full-rank training (embedding and norm-weight gradients), Gemma 3's sliding window, q/k norms and
 * (1 + w) norms (gemma3-full).
 */
export const SUBSET_CASES = ['llama-dora', 'gpt2-dora', 'llama3-rope-vera', 'gemma3-full'] as const;

export interface FixtureCase {
  readonly dir: string;
  readonly model: ModelFolder;
  /** Absent for the full-rank cases. */
  readonly adapter: AdapterFolder;
  readonly batch: TokenBatch;
  readonly summary: Summary;
  expected(file: 'logits' | 'grads' | 'after_adamw'): Map<string, TensorEntry>;
}

export async function loadCase(name: string): Promise<FixtureCase> {
  const dir = join(FIXTURES, name);
  const model = await readModelFolder(dir);
  const adapter = name.endsWith('-full')
    ? (undefined as unknown as AdapterFolder)
    : await readAdapterFolder(join(dir, 'adapter'), model.config);
  const batchPath = join(dir, 'batch.json');
  const batch = parseBatch(readFileSync(batchPath, 'utf8'), batchPath, model.config.vocabSize);
  const summary = JSON.parse(readFileSync(join(dir, 'expected', 'summary.json'), 'utf8')) as Summary;
  return {
    dir,
    model,
    adapter,
    batch,
    summary,
    expected(file) {
      const path = join(dir, 'expected', `${file}.safetensors`);
      return parseSafetensors(readFileSync(path), path).tensors;
    },
  };
}
