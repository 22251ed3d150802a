import { describe, expect, it } from 'vitest';
import { deserializeCheckpoint, serializeCheckpoint } from '../../src/train/checkpoint';
import { OpfsCheckpointStore } from '../../src/worker/checkpoint-store';

/** Just what the store uses of an OPFS directory, in memory; `tearNextWrite` keeps only the first half of the next file written. */
class MemoryDirectory {
  readonly files = new Map<string, Uint8Array>();
  tearNextWrite = false;

  async getFileHandle(name: string, opts: { create?: boolean } = {}) {
    if (!this.files.has(name)) {
      if (!opts.create) throw new DOMException(`${name} not found`, 'NotFoundError');
      this.files.set(name, new Uint8Array());
    }
    return {
      createWritable: async () => {
        const chunks: Uint8Array[] = [];
        return {
          write: async (b: Uint8Array) => void chunks.push(b.slice()),
          close: async () => {
            const whole = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
            let at = 0;
            for (const c of chunks) {
              whole.set(c, at);
              at += c.length;
            }
            const torn = this.tearNextWrite;
            this.tearNextWrite = false;
            this.files.set(name, torn ? whole.slice(0, whole.length >> 1) : whole);
          },
        };
      },
      getFile: async () => new Blob([this.files.get(name)! as Uint8Array<ArrayBuffer>]),
    };
  }

  async removeEntry(name: string) {
    if (!this.files.delete(name)) throw new DOMException(`${name} not found`, 'NotFoundError');
  }

  async *keys() {
    yield* [...this.files.keys()];
  }
}

function checkpointAt(step: number): Uint8Array {
  const data = new Float32Array([step, 1, 2, 3]);
  return serializeCheckpoint({
    spec: { method: 'lora', rank: 1, alpha: 1, rslora: false, dropout: 0, targets: ['q_proj'], fanInFanOut: false, options: {} },
    adapter: new Map([['w', { shape: [4], data }]]),
    trainer: { step, seed: 0, moments: new Map([['w', { shape: [4], m: data, v: data }]]) },
    dataOrder: { drawn: step, epoch: 0 },
    run: { step },
  });
}

const stepOf = (bytes: Uint8Array, name: string) => deserializeCheckpoint<{ step: number }>(bytes, name).run.step;

describe('the checkpoint store', () => {
  it('keeps only the newest whole checkpoint; one torn by a reload mid-write is dropped for the one before', async () => {
    const dir = new MemoryDirectory();
    const store = new OpfsCheckpointStore(dir as unknown as FileSystemDirectoryHandle);
    expect(await store.latest(stepOf)).toBeNull();
    await store.save(checkpointAt(5));
    await store.save(checkpointAt(10));
    expect([...dir.files.keys()]).toEqual(['ckpt-0000000002.safetensors']);
    expect(await store.latest(stepOf)).toBe(10);

    // The tab goes away while step 15 is written: its file is half there, step 10's is whole.
    dir.tearNextWrite = true;
    const write = dir.getFileHandle('ckpt-0000000003.safetensors', { create: true });
    const w = await (await write).createWritable();
    await w.write(checkpointAt(15));
    await w.close();
    expect(await store.latest(stepOf)).toBe(10);
    expect([...dir.files.keys()]).toEqual(['ckpt-0000000002.safetensors']);

    await store.save(checkpointAt(15));
    expect(await store.latest(stepOf)).toBe(15);
  });

  it('keeps one dataset text beside the checkpoints, and clears everything', async () => {
    const dir = new MemoryDirectory();
    const store = new OpfsCheckpointStore(dir as unknown as FileSystemDirectoryHandle);
    await store.keepText('aaaa', 'first file');
    await store.keepText('bbbb', 'second file');
    expect(await store.loadText('aaaa')).toBeNull();
    expect(await store.loadText('bbbb')).toBe('second file');
    await store.save(checkpointAt(1));
    await store.clear();
    expect(dir.files.size).toBe(0);
  });
});
