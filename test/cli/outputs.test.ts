/**
 * Issue 16's hostile cases for the CLI's outputs and sizes: an output that cannot be written is one
 * typed line before any training (never a Node stack after it), an output folder is replaced as a
 * whole or not at all, and a batch or rank too large for the model or the device is refused with
 * the flag and the limit before anything is allocated.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { linearModules, parseModelConfig } from '../../src/formats/hf-config';
import {
  ADAPTER_FOLDER_FILES,
  checkOutputFile,
  checkOutputFolder,
  durableWrite,
  type FileWriter,
  OutputError,
  readAdapterFolder,
  writeAdapterFolder,
  writeFileAtomic,
} from '../../src/formats/node-fs';
import { adapterSpecFor } from '../../src/train/adapter-spec';
import { fitProblem } from '../../src/train/memory';
import { DEFAULT_SETTINGS } from '../../src/ui/store/settings-slice';
import { validateSettings } from '../../src/worker/settings-validation';
import { FIXTURES } from '../engine/fixtures';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')];

async function cli(args: string[], as?: { uid: number; gid: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, ...args], { maxBuffer: 1 << 24, cwd: ROOT, ...as });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/**
 * Permission bits do not stop root: run as root, the read-only case runs the CLI as nobody
 * (65534), where this process may switch to that user; otherwise it cannot be shown here.
 */
const AS_ROOT = process.getuid?.() === 0;
const NOBODY = { uid: 65534, gid: 65534 };
const CAN_DROP_ROOT = AS_ROOT && spawnSync(process.execPath, ['-e', ''], NOBODY).status === 0;

const made: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'cli-out-'));
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made) {
    chmodSync(d, 0o755);
    for (const e of readdirSync(d)) if (statSync(join(d, e)).isDirectory()) chmodSync(join(d, e), 0o755);
    rmSync(d, { recursive: true, force: true });
  }
});

const MODEL = join(FIXTURES, 'llama-dora');
const BATCH = join(MODEL, 'batch.json');
const newLora = (out: string, rank = '2') =>
  ['train', '--model', MODEL, '--batch', BATCH, '--method', 'lora', '--rank', rank, '--targets', 'q_proj'].concat([
    '--steps',
    '1',
    '--lr',
    '0.01',
    '--out',
    out,
  ]);

/** One line on stderr, exit 2, nothing on stdout: no step was trained before the refusal. */
function expectRefusedBeforeTraining(r: { code: number; stdout: string; stderr: string }, message: RegExp): void {
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(message);
  expect(lines[0]).not.toMatch(/internal error|\n\s+at /);
  expect(r.code).toBe(2);
}

const enospc: FileWriter = () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));

/** Writes the first file, fails on the second as a full disk would. */
function failingSecond(): FileWriter {
  let n = 0;
  return (path, bytes) => (n++ === 0 ? durableWrite(path, bytes) : enospc(path, bytes));
}

describe('an adapter folder is replaced as a pair or not at all', () => {
  const source = () => readAdapterFolder(join(FIXTURES, 'llama-lora-qv', 'adapter'));
  const scaled = (tensors: Map<string, { shape: number[]; data: Float32Array }>, f: number) =>
    new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data.map((v) => v * f) }]));
  const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n))]));

  it('replaces both files, keeps the folder mode and leaves nothing beside it', async () => {
    const parent = tmp();
    const dir = join(parent, 'adapter');
    const a = await source();
    await writeAdapterFolder(dir, a.spec, a.tensors, null);
    chmodSync(dir, 0o750);
    await writeAdapterFolder(dir, { ...a.spec, alpha: 99 }, scaled(a.tensors, 2), null);
    expect(readdirSync(parent)).toEqual(['adapter']);
    expect(statSync(dir).mode & 0o777).toBe(0o750);
    const back = await readAdapterFolder(dir);
    expect(back.spec.alpha).toBe(99);
    const [key, t] = [...a.tensors][0]!;
    expect(back.tensors.get(key)!.data[0]).toBeCloseTo(2 * t.data[0]!, 6);
  });

  it('keeps the old pair byte for byte when the second file fails (ENOSPC), and removes the temp folder', async () => {
    const parent = tmp();
    const dir = join(parent, 'adapter');
    const a = await source();
    await writeAdapterFolder(dir, a.spec, a.tensors, null);
    const before = snapshot(dir);
    const attempt = writeAdapterFolder(dir, { ...a.spec, alpha: 99 }, scaled(a.tensors, 2), null, failingSecond());
    await expect(attempt).rejects.toThrow(OutputError);
    await expect(attempt).rejects.toThrow(`${dir}: cannot write the adapter folder (ENOSPC: no space left on the device)`);
    expect(snapshot(dir)).toEqual(before);
    expect(readdirSync(parent)).toEqual(['adapter']);
  });

  it('leaves no folder at all when the first write of a new one fails', async () => {
    const parent = tmp();
    const a = await source();
    await expect(writeAdapterFolder(join(parent, 'adapter'), a.spec, a.tensors, null, enospc)).rejects.toThrow(/ENOSPC/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('refuses to replace a folder that holds other files, and leaves it untouched', async () => {
    const dir = join(tmp(), 'mine');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'keep me');
    const a = await source();
    await expect(writeAdapterFolder(dir, a.spec, a.tensors, null)).rejects.toThrow(/holds notes\.txt, which would be lost/);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
    await expect(checkOutputFolder(dir, ADAPTER_FOLDER_FILES, 'the adapter folder')).rejects.toThrow(/notes\.txt/);
  });

  it('writeFileAtomic: a failed write is typed, names the path, and leaves the old file and no temp', async () => {
    const dir = tmp();
    const path = join(dir, 'grads.safetensors');
    writeFileSync(path, 'old');
    await expect(writeFileAtomic(path, 'new', enospc)).rejects.toThrow(
      `${path}: cannot write the file (ENOSPC: no space left on the device)`,
    );
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['grads.safetensors']);
  });
});

describe('outputs are checked before any work', () => {
  it('a folder output: an existing file, a path under a file', async () => {
    const dir = tmp();
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    await expect(checkOutputFolder(file, ADAPTER_FOLDER_FILES, 'the adapter folder')).rejects.toThrow(
      `${file}: cannot write the adapter folder: it exists and is a file, not a folder (ENOTDIR)`,
    );
    await expect(checkOutputFolder(join(file, 'sub', 'out'), ADAPTER_FOLDER_FILES, 'the adapter folder')).rejects.toThrow(
      `cannot write the adapter folder: ${file} is a file, not a folder (ENOTDIR)`,
    );
    await checkOutputFolder(join(dir, 'new', 'deeper'), ADAPTER_FOLDER_FILES, 'the adapter folder'); // parents are created later
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it('a file output: a folder, a missing folder, a path under a file', async () => {
    const dir = tmp();
    await expect(checkOutputFile(dir, 'the logits file')).rejects.toThrow(`${dir}: cannot write the logits file: it is a folder (EISDIR)`);
    await expect(checkOutputFile(join(dir, 'no', 'x.safetensors'), 'the logits file')).rejects.toThrow(/does not exist \(ENOENT/);
    writeFileSync(join(dir, 'f'), '');
    await expect(checkOutputFile(join(dir, 'f', 'x'), 'the logits file')).rejects.toThrow(/is a file, not a folder \(ENOTDIR\)/);
    await checkOutputFile(join(dir, 'ok.safetensors'), 'the logits file');
    expect(readdirSync(dir)).toEqual(['f']);
  });
});

describe('CLI output failures: one typed line before training', () => {
  it('train --out an existing file', async () => {
    const file = join(tmp(), 'taken');
    writeFileSync(file, 'precious');
    expectRefusedBeforeTraining(
      await cli(newLora(file)),
      /taken: cannot write the adapter folder: it exists and is a file, not a folder \(ENOTDIR\)/,
    );
    expect(readFileSync(file, 'utf8')).toBe('precious');
  });

  it('train --out under a regular file (ENOTDIR)', async () => {
    const file = join(tmp(), 'file');
    writeFileSync(file, '');
    expectRefusedBeforeTraining(await cli(newLora(join(file, 'adapter'))), /file is a file, not a folder \(ENOTDIR\)/);
  });

  it.skipIf(AS_ROOT && !CAN_DROP_ROOT)(
    'train --out in a read-only folder (chmod 555; as root, the CLI runs as nobody, whom the mode stops)',
    async () => {
      const base = tmp();
      chmodSync(base, 0o755);
      const ro = join(base, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o555);
      const r = await cli(newLora(join(ro, 'adapter')), AS_ROOT ? NOBODY : undefined);
      expectRefusedBeforeTraining(
        r,
        /ro\/adapter: cannot write the adapter folder: cannot create anything in .*ro \(EACCES: permission denied\)/,
      );
      expect(readdirSync(ro)).toEqual([]);
    },
  );

  it('grads --out a folder (EISDIR), eval --logits in a missing folder', async () => {
    const dir = tmp();
    const adapter = join(MODEL, 'adapter');
    expectRefusedBeforeTraining(
      await cli(['grads', '--model', MODEL, '--adapter', adapter, '--batch', BATCH, '--out', dir]),
      /cannot write the gradients file: it is a folder \(EISDIR\)/,
    );
    expectRefusedBeforeTraining(
      await cli(['eval', '--model', MODEL, '--batch', BATCH, '--logits', join(dir, 'missing', 'l.safetensors')]),
      /cannot write the logits file: its folder .*missing does not exist/,
    );
  });

  it('train over an existing adapter folder replaces it whole and leaves nothing beside it', async () => {
    const parent = tmp();
    const out = join(parent, 'adapter');
    const first = await cli(newLora(out));
    expect(first.code, first.stderr).toBe(0);
    const second = await cli(newLora(out, '4'));
    expect(second.code, second.stderr).toBe(0);
    expect(readdirSync(parent)).toEqual(['adapter']);
    expect(readdirSync(out).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect((await readAdapterFolder(out)).spec.rank).toBe(4);
  });
});

describe('sizes too large for the model or the device', () => {
  it('--rank 1000000000: the method bound on the adapted layers, before the GPU', async () => {
    const out = join(tmp(), 'never');
    expectRefusedBeforeTraining(
      await cli(newLora(out, '1000000000')),
      /train: --rank 1000000000 is too large for this model: at most 32 \(the narrowest adapted layer \(q_proj: 32 → 32\) has rank 32\)/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('a batch of 40000 × 128: names the flag, the buffer and the device limit, and what would fit', async () => {
    const dir = tmp();
    const batch = join(dir, 'big.json');
    const row = Array.from({ length: 128 }, (_, i) => (i * 7) % 67);
    writeFileSync(batch, JSON.stringify({ input_ids: Array.from({ length: 40_000 }, () => row) }));
    const out = join(dir, 'never');
    const argv = newLora(out);
    argv[argv.indexOf(BATCH)] = batch;
    expectRefusedBeforeTraining(
      await cli(argv),
      /train: --batch .*big\.json: 40000 rows × 128 tokens need a 9\.8 GiB buffer for the attention probabilities \[40000, 4, 128, 128\]; this device allows .* per buffer \(max\w+\); at most \d+ rows of 128 tokens fit in one micro-batch: split the rows with --grad-accum \d+/,
    );
    expect(existsSync(out)).toBe(false);
  }, 120_000);
});

describe('the fit check (train/memory.ts), shared by the CLI and the studio', () => {
  const config = parseModelConfig(readFileSync(join(MODEL, 'config.json'), 'utf8'), 'config.json');
  const MiB = 2 ** 20;
  const limits = { maxStorageBufferBindingSize: MiB, maxBufferSize: 4 * MiB };

  it('the batch: the largest buffer over the smaller limit, and how many sequences fit', () => {
    // [B, 4 heads, 128, 128] f32 = 256 KiB per sequence: 4 fit in 1 MiB.
    expect(fitProblem({ config, batch: 4, seq: 128, adapter: null }, limits)).toBeNull();
    const p = fitProblem({ config, batch: 5, seq: 128, adapter: null }, limits);
    expect(p).toMatchObject({ setting: 'batch', maxBatch: 4, need: { what: 'the attention probabilities', shape: [5, 4, 128, 128] } });
  });

  it('the rank: the registry bound first, then the adapter tensors against the device', () => {
    const modules = linearModules(config).filter((m) => m.name === 'q_proj');
    const spec = (method: 'lora' | 'vera', rank: number) =>
      adapterSpecFor({ method, rank, alpha: rank, rslora: false, dropout: 0, targets: ['q_proj'] }, config);
    expect(fitProblem({ config, batch: 1, seq: 8, adapter: { spec: spec('lora', 33), modules } }, null)).toMatchObject({
      setting: 'rank',
      max: 32,
    });
    // VeRA's shared A is [r, 32] and B [32, r]: at rank 128 (its bound here) 16 KiB each, over a limit of 16 KiB − 4 bytes.
    const vera = { spec: spec('vera', 128), modules };
    expect(
      fitProblem({ config, batch: 1, seq: 2, adapter: vera }, { maxStorageBufferBindingSize: 16 * 1024, maxBufferSize: MiB }),
    ).toBeNull();
    const p = fitProblem({ config, batch: 1, seq: 2, adapter: vera }, { maxStorageBufferBindingSize: 16 * 1024 - 4, maxBufferSize: MiB });
    expect(p).toMatchObject({ setting: 'rank', need: { bytes: 16 * 1024 } });
  });

  it('the studio: settings validation with the device limits marks the batch size with the same numbers', () => {
    const s = { ...DEFAULT_SETTINGS, targets: ['q_proj'], rank: 2, seqLen: 128, batchSize: 5 };
    expect(validateSettings(s, { config })).toEqual([]);
    const issues = validateSettings(s, { config, limits });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.field).toBe('batchSize');
    expect(issues[0]!.message).toMatch(
      /^must be at most 4 at sequence length 128 on this GPU: 5 × 128 tokens need a 1\.3 MiB buffer for the attention probabilities \[5, 4, 128, 128\]; this GPU allows 1\.0 MiB per buffer/,
    );
    expect(validateSettings({ ...s, batchSize: 4 }, { config, limits })).toEqual([]);
  });
});
