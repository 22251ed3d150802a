/// <reference lib="webworker" />
/**
 * Checkpoints in the Origin Private File System (navigator.storage.getDirectory(), which the
 * worker can use), in a folder of their own:
 *
 *   studio-checkpoints/ckpt-0000000007.safetensors   the newest whole checkpoint
 *   studio-checkpoints/dataset-<fingerprint>.txt     the dataset file its run trains on
 *
 * Writes never touch the checkpoint they replace: each goes to a new file (the next generation's
 * name), and only once it is written and closed are the older ones deleted. A tab closed or
 * reloaded mid-write leaves a torn newest file, which the reader refuses (the checkpoint format
 * checks its length and checksum) and deletes, going back to the previous one.
 */

/** What the session needs of a place to keep checkpoints (OPFS in the browser; tests may bring their own). */
export interface CheckpointStore {
  /** Adds a checkpoint as the newest; the older ones go once it is whole. */
  save(bytes: Uint8Array): Promise<void>;
  /**
   * The newest checkpoint that `read` accepts (it throws for a torn or foreign file, which is
   * then deleted), or null when there is none.
   */
  latest<T>(read: (bytes: Uint8Array, name: string) => T): Promise<T | null>;
  /** Deletes every checkpoint and kept text. */
  clear(): Promise<void>;
  /** Keeps a text (the dataset file) under `key` unless it is there already; every other kept text goes. */
  keepText(key: string, text: string): Promise<void>;
  loadText(key: string): Promise<string | null>;
}

const FOLDER = 'studio-checkpoints';
const CHECKPOINT = /^ckpt-(\d+)\.safetensors$/;
const TEXT_PREFIX = 'dataset-';

/** The OPFS store, or null where the browser has none (checkpoints are then off, and the page is told). */
export async function openCheckpointStore(): Promise<CheckpointStore | null> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.getDirectory) return null;
  try {
    const root = await storage.getDirectory();
    return new OpfsCheckpointStore(await root.getDirectoryHandle(FOLDER, { create: true }));
  } catch {
    return null;
  }
}

/** Exported for tests, which hand it an in-memory directory. */
export class OpfsCheckpointStore implements CheckpointStore {
  constructor(private readonly dir: FileSystemDirectoryHandle) {}

  async save(bytes: Uint8Array): Promise<void> {
    const older = await this.checkpoints();
    const generation = (older[0]?.generation ?? 0) + 1;
    await writeFile(this.dir, `ckpt-${String(generation).padStart(10, '0')}.safetensors`, bytes);
    for (const c of older) await this.remove(c.name);
  }

  async latest<T>(read: (bytes: Uint8Array, name: string) => T): Promise<T | null> {
    for (const c of await this.checkpoints()) {
      try {
        const file = await (await this.dir.getFileHandle(c.name)).getFile();
        return read(new Uint8Array(await file.arrayBuffer()), c.name);
      } catch {
        // Torn by a reload mid-write (or not ours): the one before it is whole.
        await this.remove(c.name);
      }
    }
    return null;
  }

  async clear(): Promise<void> {
    for (const name of await this.names()) await this.remove(name);
  }

  async keepText(key: string, text: string): Promise<void> {
    const name = `${TEXT_PREFIX}${key}.txt`;
    for (const other of await this.names()) if (other.startsWith(TEXT_PREFIX) && other !== name) await this.remove(other);
    // A text torn by a reload is rewritten: the resume checks the text against its fingerprint.
    if ((await this.loadText(key)) === text) return;
    await writeFile(this.dir, name, new TextEncoder().encode(text));
  }

  async loadText(key: string): Promise<string | null> {
    try {
      return await (await (await this.dir.getFileHandle(`${TEXT_PREFIX}${key}.txt`)).getFile()).text();
    } catch {
      return null;
    }
  }

  /** The checkpoint files, newest first. */
  private async checkpoints(): Promise<{ name: string; generation: number }[]> {
    const out: { name: string; generation: number }[] = [];
    for (const name of await this.names()) {
      const m = CHECKPOINT.exec(name);
      if (m) out.push({ name, generation: Number(m[1]) });
    }
    return out.sort((a, b) => b.generation - a.generation);
  }

  private async names(): Promise<string[]> {
    const out: string[] = [];
    for await (const name of (this.dir as unknown as { keys(): AsyncIterable<string> }).keys()) out.push(name);
    return out;
  }

  private async remove(name: string): Promise<void> {
    try {
      await this.dir.removeEntry(name);
    } catch {
      // Already gone, or still open in another tab: it is skipped by name or checksum next time.
    }
  }
}

/**
 * Writes a whole file: createWritable where there is one (its changes land atomically on
 * close), else a sync access handle (workers only, Safari's way), flushed before it closes.
 */
async function writeFile(dir: FileSystemDirectoryHandle, name: string, bytes: Uint8Array): Promise<void> {
  const handle = await dir.getFileHandle(name, { create: true });
  if (typeof handle.createWritable === 'function') {
    const w = await handle.createWritable();
    await w.write(bytes as Uint8Array<ArrayBuffer>);
    await w.close();
    return;
  }
  const access = await handle.createSyncAccessHandle();
  try {
    access.truncate(0);
    access.write(bytes as Uint8Array<ArrayBuffer>, { at: 0 });
    access.flush();
  } finally {
    access.close();
  }
}
