import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../src/formats/safetensors';
import { ADAPTER_CASES, FIXTURES, FULL_CASES, loadCase } from '../engine/fixtures';
import { relErr } from '../helpers/ref';
import { SP_TOKENIZER_CONFIG, sentencePieceTokenizerJson } from '../tokenizer/sentencepiece';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts')];

/** train's stdout: a JSON line per step, then the line it ends with (checked here), which is dropped. */
function trainLines<T>(stdout: string): T[] {
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as T);
  const done = lines.pop() as { done?: boolean; steps?: number; peak_gpu_bytes?: number; tokens_per_s?: number };
  expect(done).toMatchObject({ done: true, steps: lines.length });
  expect(done.peak_gpu_bytes).toBeGreaterThan(0);
  expect(done.tokens_per_s).toBeGreaterThan(0);
  return lines;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, ...args], { maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const tmp = () => mkdtempSync(join(tmpdir(), 'cli-'));
const readTensors = (path: string) => parseSafetensors(readFileSync(path), path).tensors;

describe.each(ADAPTER_CASES)('CLI on fixture %s', (name) => {
  const dir = join(FIXTURES, name);
  const common = ['--model', dir, '--batch', join(dir, 'batch.json')];

  it('eval prints the fixture loss and writes the logits', async () => {
    const c = await loadCase(name);
    const out = join(tmp(), 'logits.safetensors');
    const r = await cli(['eval', ...common, '--adapter', join(dir, 'adapter'), '--logits', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { loss, tokens } = JSON.parse(r.stdout) as { loss: number; tokens: number };
    expect(Math.abs(loss - c.summary.loss) / c.summary.loss).toBeLessThan(1e-4);
    expect(tokens).toBeGreaterThan(0);
    expect(relErr(readTensors(out).get('logits')!.data, c.expected('logits').get('logits')!.data)).toBeLessThan(1e-4);
  });

  it("--device-limits spec-default: a device with WebGPU's default limits gives the same eval", async () => {
    const args = ['eval', ...common, '--adapter', join(dir, 'adapter')];
    const [adapterLimits, specDefault] = await Promise.all([cli(args), cli([...args, '--device-limits', 'spec-default'])]);
    expect([specDefault.code, specDefault.stderr]).toEqual([0, '']);
    expect(JSON.parse(specDefault.stdout)).toEqual(JSON.parse(adapterLimits.stdout));
  });

  it('grads writes every trainable gradient under its PEFT key', async () => {
    const c = await loadCase(name);
    const out = join(tmp(), 'grads.safetensors');
    const r = await cli(['grads', ...common, '--adapter', join(dir, 'adapter'), '--out', out]);
    expect(r.code).toBe(0);
    const got = readTensors(out);
    expect([...got.keys()].sort()).toEqual([...c.summary.trainable].sort());
    for (const [key, t] of c.expected('grads')) expect(relErr(got.get(key)!.data, t.data), key).toBeLessThan(1e-3);
  });

  it('train reproduces the AdamW losses and writes the adapter of after_adamw', async () => {
    const c = await loadCase(name);
    const a = c.summary.adamw;
    const out = tmp();
    const args = [
      'train',
      ...common,
      '--adapter',
      join(dir, 'adapter'),
      '--steps',
      String(a.steps),
      '--lr',
      String(a.lr),
      '--betas',
      a.betas.join(','),
      '--eps',
      String(a.eps),
      '--weight-decay',
      String(a.weight_decay),
      '--max-grad-norm',
      '0', // the fixtures' AdamW steps are unclipped
      '--out',
    ];
    const r = await cli([...args, out]);
    expect(r.code).toBe(0);
    const losses = trainLines<{ step: number; loss: number }>(r.stdout);
    expect(losses.map((l) => l.step)).toEqual([...Array(a.steps).keys()]);
    for (const [i, l] of losses.entries()) expect(Math.abs(l.loss - c.summary.adamw_step_losses[i]!) / l.loss).toBeLessThan(1e-4);
    const got = readTensors(join(out, 'adapter_model.safetensors'));
    for (const [key, t] of c.expected('after_adamw')) expect(relErr(got.get(key)!.data, t.data), key).toBeLessThan(1e-4);
    expect(readFileSync(join(out, 'adapter_config.json'), 'utf8')).toBe(readFileSync(join(dir, 'adapter', 'adapter_config.json'), 'utf8'));
    // Gradient checkpointing recomputes each layer in backward: the very same losses.
    const again = tmp();
    const rerun = await cli([...args, again, '--gradient-checkpointing']);
    expect(rerun.code).toBe(0);
    expect(trainLines(rerun.stdout)).toEqual(trainLines(r.stdout));
    // The kernels a real GPU runs (tiled matmul, subgroup reductions, workgroup rows), forced here.
    const onGpuKernels = await cli([...args, tmp(), '--kernels', 'gpu']);
    expect(onGpuKernels.code).toBe(0);
    const gpuLosses = trainLines<{ loss: number }>(onGpuKernels.stdout);
    for (const [i, l] of gpuLosses.entries()) expect(Math.abs(l.loss - c.summary.adamw_step_losses[i]!) / l.loss).toBeLessThan(1e-4);
  });
});

describe('CLI training of new adapters', () => {
  for (const method of ['lora', 'dora', 'vera'] as const) {
    it(`${method} from scratch lowers the loss and writes a loadable PEFT folder`, async () => {
      const dir = join(FIXTURES, 'llama-lora-qv');
      const out = tmp();
      const alpha = method === 'vera' ? [] : ['--alpha', '8'];
      const r = await cli([
        'train',
        '--model',
        dir,
        '--batch',
        join(dir, 'batch.json'),
        '--method',
        method,
        '--rank',
        '4',
        ...alpha,
        '--targets',
        'q_proj,v_proj,down_proj',
        '--steps',
        '4',
        '--lr',
        method === 'vera' ? '0.05' : '0.01',
        '--seed',
        '3',
        '--out',
        out,
      ]);
      expect(r.code).toBe(0);
      const losses = trainLines<{ loss: number }>(r.stdout).map((l) => l.loss);
      expect(losses).toHaveLength(4);
      expect(losses[3]).toBeLessThan(losses[0]!);
      const evalRun = await cli(['eval', '--model', dir, '--batch', join(dir, 'batch.json'), '--adapter', out]);
      expect(evalRun.code).toBe(0);
      expect((JSON.parse(evalRun.stdout) as { loss: number }).loss).toBeLessThan(losses[3]! + 1e-4);
    });
  }
});

describe('CLI bad input', () => {
  const dir = join(FIXTURES, 'llama-dora');
  const cases: [string, () => string[], RegExp][] = [
    [
      'missing model folder',
      () => ['eval', '--model', '/nonexistent', '--batch', join(dir, 'batch.json')],
      /nonexistent: model folder not found/,
    ],
    [
      'token id out of range',
      () => {
        const f = join(tmp(), 'batch.json');
        writeFileSync(f, JSON.stringify({ input_ids: [[1, 2, 67]] }));
        return ['eval', '--model', dir, '--batch', f];
      },
      /batch\.json: .*67.*\[0, 67\)/,
    ],
    [
      'malformed JSON batch',
      () => {
        const f = join(tmp(), 'batch.json');
        writeFileSync(f, '{"input_ids": [[1, 2');
        return ['eval', '--model', dir, '--batch', f];
      },
      /batch\.json: /,
    ],
    [
      'truncated safetensors',
      () => {
        const d = tmp();
        writeFileSync(join(d, 'config.json'), readFileSync(join(dir, 'config.json')));
        writeFileSync(join(d, 'model.safetensors'), readFileSync(join(dir, 'model.safetensors')).subarray(0, 5000));
        return ['eval', '--model', d, '--batch', join(dir, 'batch.json')];
      },
      /model\.safetensors: /,
    ],
    [
      'adapter of another model',
      () => ['eval', '--model', dir, '--adapter', join(FIXTURES, 'gpt2-dora', 'adapter'), '--batch', join(dir, 'batch.json')],
      /adapter_model\.safetensors: .*c_attn/,
    ],
    [
      'unknown target',
      () => [
        'train',
        '--model',
        dir,
        '--batch',
        join(dir, 'batch.json'),
        '--method',
        'lora',
        '--rank',
        '2',
        '--targets',
        'c_fc',
        '--steps',
        '1',
        '--lr',
        '0.1',
        '--out',
        join(tmp(), 'never'),
      ],
      /--targets: .*c_fc/,
    ],
    [
      'bad rank',
      () => [
        'train',
        '--model',
        dir,
        '--batch',
        join(dir, 'batch.json'),
        '--method',
        'lora',
        '--rank',
        'x',
        '--targets',
        'q_proj',
        '--steps',
        '1',
        '--lr',
        '0.1',
        '--out',
        join(tmp(), 'never'),
      ],
      /--rank must be a positive integer/,
    ],
    ...(
      [
        ['an unregistered method', ['--method', 'loha', '--rank', '2'], /--method must be lora, dora, vera, full or relora, got 'loha'/],
        ['VeRA with --alpha', ['--method', 'vera', '--rank', '2', '--alpha', '4'], /VeRA has no --alpha \(/],
        ['VeRA with --rslora', ['--method', 'vera', '--rank', '2', '--rslora'], /VeRA has no --rslora/],
      ] as const
    ).map(([what, method, message]): [string, () => string[], RegExp] => [
      what,
      () => [
        'train',
        '--model',
        dir,
        '--batch',
        join(dir, 'batch.json'),
        ...method,
        '--targets',
        'q_proj',
        '--steps',
        '1',
        '--lr',
        '0.1',
        '--out',
        join(tmp(), 'never'),
      ],
      message,
    ]),
    [
      'an unknown --device-limits',
      () => ['eval', '--model', dir, '--batch', join(dir, 'batch.json'), '--device-limits', 'tiny'],
      /--device-limits must be adapter or spec-default, got 'tiny'/,
    ],
    [
      'an unknown --kernels',
      () => ['eval', '--model', dir, '--batch', join(dir, 'batch.json'), '--kernels', 'fast'],
      /--kernels must be auto, cpu, gpu, got 'fast'/,
    ],
    [
      'no target tokens',
      () => {
        const f = join(tmp(), 'batch.json');
        writeFileSync(f, JSON.stringify({ input_ids: [[1, 2, 3]], labels: [[-100, -100, -100]] }));
        return ['grads', '--model', dir, '--adapter', join(dir, 'adapter'), '--batch', f, '--out', join(tmp(), 'never.safetensors')];
      },
      /no target tokens/,
    ],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: one line on stderr, exit 2, no output`, async () => {
      const argv = args();
      const r = await cli(argv);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      const outIndex = argv.indexOf('--out');
      if (outIndex >= 0) expect(existsSync(argv[outIndex + 1]!)).toBe(false);
    });
  }
});

describe('CLI full-rank and ReLoRA training (model folders out)', () => {
  for (const name of FULL_CASES) {
    it(`${name}: --method full reproduces the fixture's AdamW steps and writes the model`, async () => {
      const c = await loadCase(name);
      const a = c.summary.adamw;
      const dir = join(FIXTURES, name);
      const out = tmp();
      const r = await cli([
        'train',
        '--model',
        dir,
        '--batch',
        join(dir, 'batch.json'),
        '--method',
        'full',
        '--steps',
        String(a.steps),
        '--lr',
        String(a.lr),
        '--weight-decay',
        String(a.weight_decay),
        '--max-grad-norm',
        '0',
        '--out',
        out, // unclipped, as the fixture
      ]);
      expect(r.code).toBe(0);
      const losses = trainLines<{ loss: number }>(r.stdout).map((l) => l.loss);
      for (const [i, l] of losses.entries()) expect(Math.abs(l - c.summary.adamw_step_losses[i]!) / l).toBeLessThan(1e-4);
      const got = readTensors(join(out, 'model.safetensors'));
      for (const [key, t] of c.expected('after_adamw')) expect(relErr(got.get(key)!.data, t.data), key).toBeLessThan(1e-4);
      const evalRun = await cli(['eval', '--model', out, '--batch', join(dir, 'batch.json')]);
      expect(
        Math.abs((JSON.parse(evalRun.stdout) as { loss: number }).loss - c.summary.loss_after_adamw) / c.summary.loss_after_adamw,
      ).toBeLessThan(1e-4);
    });
  }

  it('--method relora reports phases and resets and writes a merged model that evaluates', async () => {
    const dir = join(FIXTURES, 'llama-full');
    const out = tmp();
    const r = await cli([
      'train',
      '--model',
      dir,
      '--batch',
      join(dir, 'batch.json'),
      '--method',
      'relora',
      '--rank',
      '4',
      '--relora-reset',
      '3',
      '--warm-start-steps',
      '2',
      '--restart-warmup',
      '1',
      '--optimizer-pruning',
      '0.999',
      '--steps',
      '9',
      '--lr',
      '0.004',
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    const steps = trainLines<{ step: number; phase: string; reset: boolean; lr: number }>(r.stdout);
    expect(steps.filter((s) => s.phase === 'warm-start').map((s) => s.step)).toEqual([0, 1]);
    expect(steps.filter((s) => s.reset).map((s) => s.step)).toEqual([5, 8]);
    expect(steps.find((s) => s.step === 5)!.lr).toBe(0);
    const evalRun = await cli(['eval', '--model', out, '--batch', join(dir, 'batch.json')]);
    expect(evalRun.code).toBe(0);
  });

  it('--method full refuses ReLoRA flags', async () => {
    const dir = join(FIXTURES, 'llama-full');
    const r = await cli([
      'train',
      '--model',
      dir,
      '--batch',
      join(dir, 'batch.json'),
      '--method',
      'full',
      '--relora-reset',
      '3',
      '--steps',
      '1',
      '--lr',
      '0.1',
      '--out',
      join(tmp(), 'x'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--relora-reset needs --method relora/);
  });
});

describe('CLI generate', () => {
  const model = join(import.meta.dirname, '..', '..', 'public', 'models', 'dev-tiny');

  it('greedy generation prints the prompt and its continuation', async () => {
    const r = await cli(['generate', '--model', model, '--prompt', 'Q1: colour?', '--max-tokens', '4']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('Q1: colour?')).toBe(true);
    expect(r.stdout.length).toBeGreaterThan('Q1: colour?\n'.length);
  });

  it("a flag not given takes generation_config.json's default; a flag given wins", async () => {
    const withConfig = tmp();
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
      copyFileSync(join(model, f), join(withConfig, f));
    writeFileSync(join(withConfig, 'generation_config.json'), JSON.stringify({ do_sample: false, max_new_tokens: 2 }));
    const prompt = ['--prompt', 'Q1: colour?'];
    const [byConfig, byFlag, flagWins, plain4] = await Promise.all([
      cli(['generate', '--model', withConfig, ...prompt]),
      cli(['generate', '--model', model, ...prompt, '--max-tokens', '2']),
      cli(['generate', '--model', withConfig, ...prompt, '--max-tokens', '4']),
      cli(['generate', '--model', model, ...prompt, '--max-tokens', '4']),
    ]);
    expect([byConfig.code, byConfig.stderr, flagWins.code]).toEqual([0, '', 0]);
    expect(byConfig.stdout).toBe(byFlag.stdout);
    expect(flagWins.stdout).toBe(plain4.stdout);
    expect(byConfig.stdout).not.toBe(plain4.stdout); // the dev model does not stop by itself within 4 tokens
  });

  it('keeps the space between the prompt and the continuation with a SentencePiece tokenizer (Llama 2 style)', async () => {
    const sp = tmp();
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(model, f), join(sp, f));
    // Every piece but the specials is "▁word": decoded alone, the first new word would lose its space.
    writeFileSync(join(sp, 'tokenizer.json'), sentencePieceTokenizerJson('metaspace', 257));
    writeFileSync(join(sp, 'tokenizer_config.json'), SP_TOKENIZER_CONFIG);
    const r = await cli(['generate', '--model', sp, '--prompt', 'The film was', '--max-tokens', '6']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^The film was( [^\s]+)+\n$/);
  });

  it('names a missing model folder and a missing prompt', async () => {
    const noModel = await cli(['generate', '--model', join(tmp(), 'nope'), '--prompt', 'x']);
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toMatch(/nope: model folder not found/);
    const noPrompt = await cli(['generate', '--model', model]);
    expect(noPrompt.code).toBe(2);
    expect(noPrompt.stderr).toMatch(/--prompt/);
  });
});

describe('CLI gradient accumulation', () => {
  it("--grad-accum 2 (the batch's two rows as micro-batches) reproduces the fixture's AdamW steps; a count that does not divide the rows is refused", async () => {
    const name = 'llama-lora-qv';
    const c = await loadCase(name);
    const a = c.summary.adamw;
    const dir = join(FIXTURES, name);
    const out = tmp();
    const r = await cli([
      'train',
      '--model',
      dir,
      '--batch',
      join(dir, 'batch.json'),
      '--adapter',
      join(dir, 'adapter'),
      '--steps',
      String(a.steps),
      '--lr',
      String(a.lr),
      '--betas',
      a.betas.join(','),
      '--eps',
      String(a.eps),
      '--weight-decay',
      String(a.weight_decay),
      '--max-grad-norm',
      '0',
      '--grad-accum',
      '2',
      '--out',
      out,
    ]);
    expect(r.stderr).toBe('');
    const losses = trainLines<{ loss: number }>(r.stdout).map((l) => l.loss);
    for (const [i, l] of losses.entries()) expect(Math.abs(l - c.summary.adamw_step_losses[i]!) / l).toBeLessThan(1e-4);
    const got = readTensors(join(out, 'adapter_model.safetensors'));
    for (const [key, t] of c.expected('after_adamw')) expect(relErr(got.get(key)!.data, t.data), key).toBeLessThan(1e-4);
    const bad = await cli([
      'train',
      '--model',
      dir,
      '--batch',
      join(dir, 'batch.json'),
      '--adapter',
      join(dir, 'adapter'),
      '--steps',
      '1',
      '--lr',
      '0.1',
      '--grad-accum',
      '3',
      '--out',
      join(tmp(), 'never'),
    ]);
    expect([bad.code, bad.stderr.trim()]).toEqual([2, "error: train: --grad-accum 3 must divide the batch's 2 rows"]);
  });
});
