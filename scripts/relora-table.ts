/**
 * Prints the ReLoRA paper-style comparison from the logs of `npm run pretrain` and its two
 * comparison branches (`--branch full`, `--branch lora`): validation perplexity of each method at
 * the steps all three logged, from the shared warm start on.
 *   npx tsx scripts/relora-table.ts [--checkpoint-dir ~/.cache/studio-pretrain]
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const i = process.argv.indexOf('--checkpoint-dir');
const dir = i >= 0 ? process.argv[i + 1]! : join(homedir(), '.cache', 'studio-pretrain');
const RUNS = [
  ['full-rank', 'log-full.jsonl'],
  ['ReLoRA', 'log.jsonl'],
  ['LoRA', 'log-lora.jsonl'],
] as const;

/** step → validation perplexity, from the lines of a log that carry a validation loss. */
function perplexities(file: string): Map<number, number> {
  const path = join(dir, file);
  if (!existsSync(path)) throw new Error(`${path}: missing; run the pretraining and both branches first`);
  const out = new Map<number, number>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.includes('valLoss')) continue;
    const row = JSON.parse(line) as { step: number; ppl: number };
    out.set(row.step, row.ppl);
  }
  return out;
}

function main(): void {
  const runs = RUNS.map(([name, file]) => ({ name, ppl: perplexities(file) }));
  const branchStart = Math.min(...[...runs[0]!.ppl.keys()]);
  const steps = [...runs[1]!.ppl.keys()].filter((s) => s >= branchStart && runs.every((r) => r.ppl.has(s))).sort((a, b) => a - b);
  console.log(`| step | ${runs.map((r) => r.name).join(' | ')} |`);
  console.log(`| ---: | ${runs.map(() => '---:').join(' | ')} |`);
  for (const s of steps) console.log(`| ${s} | ${runs.map((r) => r.ppl.get(s)!.toFixed(1)).join(' | ')} |`);
}

try {
  main();
} catch (e) {
  console.error(`relora-table: ${(e as Error).message}`);
  process.exit(2);
}
