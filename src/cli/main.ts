#!/usr/bin/env node
/**
 * Headless CLI on the same engine as the studio (Dawn's `webgpu` package in Node):
 *   eval   --model DIR [--adapter DIR] --batch FILE [--logits OUT.safetensors]
 *   grads  --model DIR --adapter DIR --batch FILE --out OUT.safetensors
 *   train  --model DIR (--adapter DIR | --method M --rank R [--alpha A] [--rslora]
 *          [--dropout P] --targets q_proj,v_proj) --batch FILE --steps N --lr X [--betas B1,B2]
 *          [--eps E] [--weight-decay W] [--max-grad-norm G] [--grad-accum N] [--seed S]
 *          [--gradient-checkpointing] --out DIR
 *   every command: [--device-limits adapter|spec-default] [--kernels auto|cpu|gpu]
 *          (M: a method of src/adapters/index.ts (lora, dora, vera), full or relora;
 *          defaults: src/train/defaults.ts; clipping at 1, as HF Trainer)
 *   generate --model DIR [--adapter DIR] --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K] [--seed S]
 * Bad input ends with one line on stderr naming the file and the problem, exit code 2, and no
 * output file written; so does a run too large for the model or the device (checked before any
 * GPU allocation) and an output that cannot be written (checked before training starts; an output
 * folder is replaced as a whole or not at all).
 */
import { FormatError } from '../formats/errors';
import { describeCause, OutputError } from '../formats/node-fs';
import { WebGpuUnavailableError } from '../gpu/device';
import { TooLargeError } from '../train/memory';
import { EmptyBatchError } from '../train/step';
import { UsageError } from './args';
import { runEval, runGrads, runTrain } from './commands';
import { runGenerate } from './generate';

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  eval: runEval,
  grads: runGrads,
  train: runTrain,
  generate: runGenerate,
};

const USAGE = `usage: npm run cli -- <eval|grads|train|generate> [flags]   (see src/cli/main.ts)`;

/** Errors a user can act on get one line; anything else is a bug and keeps its stack. */
function isUserError(e: unknown): e is Error {
  return (
    e instanceof FormatError ||
    e instanceof UsageError ||
    e instanceof WebGpuUnavailableError ||
    e instanceof EmptyBatchError ||
    e instanceof TooLargeError ||
    e instanceof OutputError
  );
}

/** A file-system error no command turned into an OutputError still reads as `<path>: <CODE>: <cause>`. */
function fileSystemError(e: unknown): string | null {
  const err = e as NodeJS.ErrnoException | null;
  if (!(err instanceof Error) || typeof err.code !== 'string' || !/^E[A-Z]+$/.test(err.code) || typeof err.path !== 'string') return null;
  return `${err.path}: ${describeCause(err)}`;
}

async function main(): Promise<number> {
  const [command, ...argv] = process.argv.slice(2);
  const run = command ? COMMANDS[command] : undefined;
  if (!run) {
    process.stderr.write(`${command ? `unknown command '${command}'\n` : ''}${USAGE}\n`);
    return 2;
  }
  try {
    await run(argv);
    return 0;
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    const fs = fileSystemError(e);
    if (fs !== null) {
      process.stderr.write(`error: ${fs}\n`);
      return 2;
    }
    throw e;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`internal error: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
