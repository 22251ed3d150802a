import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBatch, type TokenBatch } from '../../src/formats/batch';
import type { ModelFolder } from '../../src/formats/model-folder';
import { readAdapterFolder, readModelFolder, type AdapterFolder } from '../../src/formats/node-fs';
import { parseSafetensors, type TensorEntry } from '../../src/formats/safetensors';

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
