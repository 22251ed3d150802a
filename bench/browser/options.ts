/**
 * Options of the bench page, from its query string: the Node driver turns each `--name` flag
 * into `?name=1`, so a new option (e.g. profiling) needs a field here and nothing in the driver.
 */
import { LLAMA_21M, type LlamaDims } from '../common';
import type { BenchSizes } from '../results';

/** The sections a plain run has; `profile` runs only when asked for (`--profile`, or in `--only`). */
export const SECTIONS = ['matmul', 'step', 'adapters', 'memory'] as const;
export const ALL_SECTIONS = [...SECTIONS, 'profile'] as const;
export type SectionName = (typeof ALL_SECTIONS)[number];

export interface BenchOptions {
  /** Tiny shapes for a smoke run (a couple of minutes on SwiftShader). */
  readonly quick: boolean;
  /** The sections to run (`--only=step,memory`); all but `profile` by default, which `--profile` adds. */
  readonly only: readonly SectionName[];
}

export function parseOptions(search: string): BenchOptions {
  const q = new URLSearchParams(search);
  const only: string[] = q.get('only')?.split(',') ?? [...SECTIONS];
  const unknown = only.filter((s) => !(ALL_SECTIONS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`unknown section ${unknown.join(', ')} in --only (sections: ${ALL_SECTIONS.join(', ')})`);
  if (q.get('profile') === '1' && !only.includes('profile')) only.push('profile');
  return { quick: q.get('quick') === '1', only: only as SectionName[] };
}

/** hidden 256, 4 layers, sequence 128, batch 4 (issue 6); intermediate 2.75 × hidden as LLAMA_21M. */
const STEP_LLAMA: LlamaDims = { hidden: 256, layers: 4, heads: 4, kvHeads: 4, intermediate: 704, vocab: 4096, maxPositions: 128 };

const QUICK_MATMUL: LlamaDims = { hidden: 128, layers: 2, heads: 4, kvHeads: 4, intermediate: 352, vocab: 512, maxPositions: 64 };
const QUICK_STEP: LlamaDims = { hidden: 64, layers: 2, heads: 2, kvHeads: 2, intermediate: 176, vocab: 256, maxPositions: 32 };

export function benchSizes(o: BenchOptions): BenchSizes {
  if (o.quick) return { matmulTokens: 64, matmulDims: QUICK_MATMUL, stepDims: QUICK_STEP, batch: 2, seq: 32, rank: 8, repeats: 2 };
  return { matmulTokens: 512, matmulDims: LLAMA_21M, stepDims: STEP_LLAMA, batch: 4, seq: 128, rank: 8, repeats: 3 };
}
