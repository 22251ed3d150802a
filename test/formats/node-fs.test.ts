import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAdapterFolder, readModelFolder, writeAdapterFolder, writeFileAtomic } from '../../src/formats/node-fs';
import { parseSafetensors, writeSafetensors, type TensorEntry } from '../../src/formats/safetensors';
import { ADAPTER_CASES, CASES, HAVE_FIXTURES, expectFormatErrorAsync, fixtureBytes, fixturePath } from './fixtures';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'formats-test-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function newDir(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function expectSameTensors(a: Map<string, TensorEntry>, b: Map<string, TensorEntry>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, t] of a) {
    expect(b.get(k)!.shape, k).toEqual(t.shape);
    expect(b.get(k)!.data, k).toEqual(t.data);
  }
}

describe.skipIf(!HAVE_FIXTURES)('readModelFolder', () => {
  for (const c of CASES) {
    it(`reads ${c}`, async () => {
      const { config, weights } = await readModelFolder(fixturePath(c));
      expect(config.numLayers).toBe(
        (JSON.parse(readFileSync(fixturePath(c, 'config.json'), 'utf8')) as { num_hidden_layers?: number; n_layer?: number })
          .num_hidden_layers ?? 2,
      );
      const raw = parseSafetensors(fixtureBytes(c, 'model.safetensors'), 'm').tensors;
      expectSameTensors(raw, weights);
    });
  }

  it('reads a checkpoint split into two shards with an index', async () => {
    const dir = newDir('sharded');
    copyFileSync(fixturePath('llama-lora-qv', 'config.json'), join(dir, 'config.json'));
    const full = parseSafetensors(fixtureBytes('llama-lora-qv', 'model.safetensors'), 'm').tensors;
    const names = [...full.keys()].sort();
    const half = Math.ceil(names.length / 2);
    const shardNames = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const weightMap: Record<string, string> = {};
    [names.slice(0, half), names.slice(half)].forEach((group, i) => {
      const shard = new Map(group.map((n) => [n, full.get(n)!]));
      writeFileSync(join(dir, shardNames[i]!), writeSafetensors(shard, { format: 'pt' }));
      for (const n of group) weightMap[n] = shardNames[i]!;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));

    const { config, weights } = await readModelFolder(dir);
    expect(config.arch).toBe('llama');
    expectSameTensors(full, weights);

    // A shard the index names but that is missing, and a tensor the index puts in the wrong shard.
    rmSync(join(dir, shardNames[1]!));
    await expectFormatErrorAsync(
      readModelFolder(dir),
      join(dir, shardNames[1]!),
      'file not found (listed in model.safetensors.index.json)',
    );
    writeFileSync(join(dir, shardNames[1]!), writeSafetensors([]));
    await expectFormatErrorAsync(readModelFolder(dir), join(dir, shardNames[1]!), 'is not in this shard');
  });

  it('accepts a GPT-2 checkpoint without the transformer. prefix and returns canonical keys', async () => {
    const dir = newDir('gpt2-bare');
    copyFileSync(fixturePath('gpt2-lora', 'config.json'), join(dir, 'config.json'));
    const full = parseSafetensors(fixtureBytes('gpt2-lora', 'model.safetensors'), 'm').tensors;
    const bare = new Map([...full].map(([k, t]) => [k.replace(/^transformer\./, ''), t]));
    expect(bare.has('wte.weight')).toBe(true);
    writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(bare));
    const { weights } = await readModelFolder(dir);
    expectSameTensors(full, weights);
  });

  it('names the missing file', async () => {
    const dir = newDir('empty-model');
    await expectFormatErrorAsync(readModelFolder(dir), join(dir, 'config.json'), 'file not found');
    copyFileSync(fixturePath('gpt2-lora', 'config.json'), join(dir, 'config.json'));
    await expectFormatErrorAsync(readModelFolder(dir), dir, 'neither model.safetensors nor model.safetensors.index.json');
    writeFileSync(join(dir, 'pytorch_model.bin'), 'x');
    await expectFormatErrorAsync(readModelFolder(dir), dir, 'pickle');
  });

  it('checks weights against the config', async () => {
    const dir = newDir('mismatch');
    copyFileSync(fixturePath('llama-lora-all-rslora', 'config.json'), join(dir, 'config.json'));
    copyFileSync(fixturePath('llama-lora-qv', 'model.safetensors'), join(dir, 'model.safetensors')); // other shapes
    await expectFormatErrorAsync(readModelFolder(dir), join(dir, 'model.safetensors'), 'but the config implies');
  });

  it('reports a corrupt weights file by path', async () => {
    const dir = newDir('corrupt');
    copyFileSync(fixturePath('llama-lora-qv', 'config.json'), join(dir, 'config.json'));
    writeFileSync(join(dir, 'model.safetensors'), fixtureBytes('llama-lora-qv', 'model.safetensors').subarray(0, 3000));
    await expectFormatErrorAsync(readModelFolder(dir), join(dir, 'model.safetensors'), 'truncated');
  });
});

describe.skipIf(!HAVE_FIXTURES)('adapter folders', () => {
  for (const c of ADAPTER_CASES) {
    it(`reads ${c}/adapter and checks it against the model`, async () => {
      const { config } = await readModelFolder(fixturePath(c));
      const { spec, tensors } = await readAdapterFolder(fixturePath(c, 'adapter'), config);
      expect(spec.targets.length).toBeGreaterThan(0);
      expect(tensors.size).toBeGreaterThan(0);
    });
  }

  it('round-trips through writeAdapterFolder', async () => {
    const { config } = await readModelFolder(fixturePath('llama-dora'));
    const orig = await readAdapterFolder(fixturePath('llama-dora', 'adapter'), config);
    const dir = join(tmp, 'written-adapter');
    await writeAdapterFolder(dir, orig.spec, orig.tensors, null);
    expect(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).toBe(
      readFileSync(fixturePath('llama-dora', 'adapter', 'adapter_config.json'), 'utf8'),
    );
    const again = await readAdapterFolder(dir, config);
    expect(again.spec).toEqual(orig.spec);
    expectSameTensors(orig.tensors, again.tensors);
    expect(readdirSync(dir).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  });

  it('names a missing adapter file', async () => {
    const dir = newDir('half-adapter');
    copyFileSync(fixturePath('llama-lora-qv', 'adapter', 'adapter_config.json'), join(dir, 'adapter_config.json'));
    await expectFormatErrorAsync(readAdapterFolder(dir), join(dir, 'adapter_model.safetensors'), 'file not found');
  });
});

describe('writeFileAtomic', () => {
  it('writes bytes and text, replacing an existing file', async () => {
    const path = join(tmp, 'atomic.bin');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    await writeFileAtomic(path, 'hello');
    expect(readFileSync(path, 'utf8')).toBe('hello');
    expect(existsSync(`${path}.tmp-${process.pid}`)).toBe(false);
  });

  it('leaves neither the target nor a temp file when the write fails', async () => {
    const path = join(tmp, 'no-such-dir', 'x.bin');
    await expect(writeFileAtomic(path, new Uint8Array([1]))).rejects.toThrow();
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.tmp-${process.pid}`)).toBe(false);
  });

  it('keeps the old file intact when the rename fails', async () => {
    const dir = newDir('rename-fails');
    const path = join(dir, 'target');
    mkdirSync(path); // renaming a file over a directory fails after the temp file is written
    await expect(writeFileAtomic(path, new Uint8Array([1]))).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['target']);
  });
});
