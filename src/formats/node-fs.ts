/**
 * Node-only helpers: a directory as the model loader's FileSource, read a PEFT adapter folder from disk, and write
 * outputs atomically: a file by temp-and-rename, a folder (an adapter's or a model's files) as a whole, by
 * writing a temporary sibling folder and renaming it into place. Everything else in src/formats is
 * byte/string based and also runs in the browser; keep `node:` imports confined to this file.
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, open, readdir, readFile, realpath, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FormatError } from './errors';
import type { ModelConfig } from './hf-config';
import { float32ConfigJson } from './merged-folder';
import { loadModelFolder, type FileSource, type LoadOptions, type ModelFolder } from './model-folder';
import { adapterConfigJson, checkAdapterTensors, parseAdapterConfig, type AdapterSpec } from './peft';
import { parseSafetensors, writeSafetensors, type TensorEntry } from './safetensors';
import type { LoadedTokenizer } from '../tokenizer/load';

export interface AdapterFolder {
  spec: AdapterSpec;
  /** Keyed by PEFT key (`base_model.model.<module>.lora_A.weight`, ...). */
  tensors: Map<string, TensorEntry>;
}

/** Reads a whole file; a missing or unreadable file becomes a FormatError naming its path. */
async function readBytes(path: string, hint = ''): Promise<Uint8Array> {
  const bytes = await readOptional(path);
  if (!bytes) throw new FormatError(path, `file not found${hint}`);
  return bytes;
}

/** Like readBytes, but a missing file is undefined (for "this file or that one"). */
async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new FormatError(path, `cannot read file (${code ?? (e as Error).message})`);
  }
}

async function readText(path: string, hint = ''): Promise<string> {
  return new TextDecoder().decode(await readBytes(path, hint));
}

/**
 * A directory on disk as a FileSource for loadModelFolder: listed once, errors name each file by
 * its path; a folder that does not exist is "model folder not found".
 */
export async function directorySource(dir: string): Promise<FileSource> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FormatError(
      dir,
      code === 'ENOENT' ? 'model folder not found' : `cannot read the model folder (${code ?? (e as Error).message})`,
    );
  }
  return {
    name: dir,
    list: () => names,
    pathOf: (name) => join(dir, name),
    bytes: (name) => bareNamed(name, readBytes(join(dir, name))),
    text: (name) => bareNamed(name, readText(join(dir, name))),
  };
}

/** A FileSource's errors name the file by its bare name; the loader names it by pathOf. */
async function bareNamed<T>(name: string, read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (e) {
    throw e instanceof FormatError ? new FormatError(name, e.problem) : e;
  }
}

/** loadModelFolder on a directory (with `{ tokenizer: true }` also its tokenizer and generation config). */
export async function readModelFolder<T extends boolean = false>(
  dir: string,
  opts: LoadOptions<T> = {},
): Promise<ModelFolder<T extends true ? LoadedTokenizer : null>> {
  return loadModelFolder(await directorySource(dir), opts);
}

/** Reads `adapter_config.json` + `adapter_model.safetensors`; with a model config, also checks keys and shapes. */
export async function readAdapterFolder(dir: string, config?: ModelConfig): Promise<AdapterFolder> {
  const configPath = join(dir, 'adapter_config.json');
  const spec = parseAdapterConfig(await readText(configPath), configPath);
  const weightsPath = join(dir, 'adapter_model.safetensors');
  const bytes = await readBytes(weightsPath, ' (an adapter_model.bin pickle is not supported)');
  const { tensors } = parseSafetensors(bytes, weightsPath);
  if (config) checkAdapterTensors(spec, config, tensors, weightsPath);
  return { spec, tensors };
}

// ---- writing outputs ----------------------------------------------------------------------------

/**
 * An output that cannot be written, reported as `<path>: <problem> (<CODE>: <cause>)`: the path the
 * user gave and the system's reason (EACCES, ENOSPC, EROFS, EISDIR, ENOTDIR, ...), never a stack.
 */
export class OutputError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
    readonly code: string | undefined = undefined,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'OutputError';
  }
}

const CAUSES: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for the file system',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  ENOENT: 'a folder on the path does not exist',
  EEXIST: 'it already exists',
  ENOTEMPTY: 'the folder is not empty',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
  EMFILE: 'too many open files',
  EBUSY: 'it is in use',
  EIO: 'input/output error',
  EXDEV: 'the temporary and the final path are on different file systems',
};

const codeOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

/** "EROFS: read-only file system" (or the error's own message when it has no code). */
export function describeCause(e: unknown): string {
  const code = codeOf(e);
  if (code) return `${code}: ${CAUSES[code] ?? (e as Error).message}`;
  return e instanceof Error ? e.message : String(e);
}

function outputError(path: string, problem: string, e: unknown): OutputError {
  if (e instanceof OutputError) return e;
  return new OutputError(path, `${problem} (${describeCause(e)})`, codeOf(e));
}

/** How one output file is written; tests replace it to fail on purpose (a full disk on the second file). */
export type FileWriter = (path: string, bytes: Uint8Array | string) => Promise<void>;

/** Writes and flushes a new file (`wx`: never through an existing one). */
export const durableWrite: FileWriter = async (path, bytes) => {
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
};

/** Null where nothing is (ENOENT, or ENOTDIR: a file stands where a folder on the path should be; the caller names it). */
async function lstatOrNull(path: string) {
  try {
    return await lstat(path);
  } catch (e) {
    if (codeOf(e) === 'ENOENT' || codeOf(e) === 'ENOTDIR') return null;
    throw e;
  }
}

const suffix = () => `${process.pid}-${randomBytes(4).toString('hex')}`;

/**
 * The folder that will hold `path` once created: the nearest existing ancestor, which must be a
 * folder in which a new entry can be made (probed by making and removing one, which also catches
 * EROFS and the like for root, whom permission bits do not stop).
 */
async function checkCanCreateIn(path: string, what: string): Promise<void> {
  let dir = dirname(path);
  for (;;) {
    let st: Awaited<ReturnType<typeof stat>> | null;
    try {
      st = await stat(dir);
    } catch (e) {
      if (codeOf(e) !== 'ENOENT' && codeOf(e) !== 'ENOTDIR') throw outputError(path, `cannot write ${what}: cannot look at ${dir}`, e);
      st = null;
    }
    if (st) {
      if (!st.isDirectory()) {
        throw new OutputError(path, `cannot write ${what}: ${dir} is a file, not a folder (ENOTDIR)`, 'ENOTDIR');
      }
      break;
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const probe = join(dir, `.${basename(path)}.probe-${suffix()}`);
  try {
    await mkdir(probe);
  } catch (e) {
    throw outputError(path, `cannot write ${what}: cannot create anything in ${dir}`, e);
  }
  await rmdir(probe).catch(() => undefined);
}

/** Where an output folder really is (an existing symlink followed) and what it holds now (null: not there). */
async function folderState(dir: string, what: string): Promise<{ path: string; entries: string[] | null }> {
  const abs = resolve(dir);
  if (dirname(abs) === abs) throw new OutputError(dir, `cannot write ${what} over the root folder`);
  try {
    const link = await lstatOrNull(abs);
    if (!link) return { path: abs, entries: null };
    const path = link.isSymbolicLink() ? await realpath(abs) : abs;
    const st = link.isSymbolicLink() ? await stat(path) : link;
    if (!st.isDirectory()) throw new OutputError(dir, `cannot write ${what}: it exists and is a file, not a folder (ENOTDIR)`, 'ENOTDIR');
    return { path, entries: await readdir(path) };
  } catch (e) {
    throw outputError(dir, `cannot write ${what}: cannot look at the existing path`, e);
  }
}

/** An existing output folder is replaced as a whole, so it may hold only the files the output writes. */
function checkReplaceable(dir: string, entries: readonly string[], names: readonly string[], what: string): void {
  const others = entries.filter((e) => !names.includes(e));
  if (others.length === 0) return;
  const shown = others.slice(0, 5).join(', ') + (others.length > 5 ? `, … (${others.length} in all)` : '');
  throw new OutputError(
    dir,
    `cannot write ${what}: the folder exists and holds ${shown}, which would be lost when it is replaced; ` +
      `give a new or empty folder, or one that holds only ${names.join(' and ')}`,
    'ENOTEMPTY',
  );
}

/**
 * Checks, before any work, that `writeFolderAtomic(dir, files named names)` can succeed as far as can
 * be known: `dir` is not a file, an existing folder holds only those files, and its parent (or the
 * nearest existing ancestor; missing folders are created) takes new entries.
 */
export async function checkOutputFolder(dir: string, names: readonly string[], what: string): Promise<void> {
  const { path, entries } = await folderState(dir, what);
  if (entries) checkReplaceable(dir, entries, names, what);
  await checkCanCreateIn(path, what);
}

export interface OutputFile {
  readonly name: string;
  readonly bytes: Uint8Array | string;
}

/**
 * Writes the files as one folder, complete or not at all: into a temporary sibling folder, then
 * renamed into place; an existing folder (holding only these files' names) is moved aside first and
 * removed after. On any failure the old folder is left exactly as it was, the temporary one is
 * removed, and the error is an OutputError naming `dir` and the cause. Missing parents are created.
 */
export async function writeFolderAtomic(
  dir: string,
  files: readonly OutputFile[],
  what: string,
  write: FileWriter = durableWrite,
): Promise<void> {
  const { path, entries } = await folderState(dir, what);
  const names = files.map((f) => f.name);
  if (entries) checkReplaceable(dir, entries, names, what);
  const parent = dirname(path);
  const base = basename(path);
  let tmp: string | null = null;
  try {
    await mkdir(parent, { recursive: true });
    const candidate = join(parent, `.${base}.tmp-${suffix()}`);
    await mkdir(candidate); // the mode a new folder gets (the umask's), unlike mkdtemp's 0700
    tmp = candidate;
    for (const f of files) await write(join(tmp, f.name), f.bytes);
    if (entries) await chmod(tmp, (await stat(path)).mode & 0o7777); // a replaced folder keeps its mode
  } catch (e) {
    if (tmp) await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw outputError(dir, `cannot write ${what}`, e);
  }
  const old = entries ? join(parent, `.${base}.old-${suffix()}`) : null;
  try {
    if (old) await rename(path, old);
    try {
      await rename(tmp, path);
    } catch (e) {
      if (old) {
        await rename(old, path).catch((restore: unknown) => {
          throw outputError(dir, `cannot put ${what} in place (${describeCause(e)}) nor the old one back: it is at ${old}`, restore);
        });
      }
      throw e;
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw outputError(dir, `cannot put ${what} in place`, e);
  }
  if (old) await rm(old, { recursive: true, force: true }).catch(() => undefined);
}

/** The two files of a PEFT adapter folder. */
export const ADAPTER_FOLDER_FILES = ['adapter_model.safetensors', 'adapter_config.json'] as const;

/**
 * Writes a PEFT adapter folder that `PeftModel.from_pretrained` can load: the config, and the
 * tensors as F32 safetensors with the `{"format": "pt"}` metadata PEFT itself writes. Both files
 * replace an existing adapter folder together or not at all (writeFolderAtomic).
 */
export async function writeAdapterFolder(
  dir: string,
  spec: AdapterSpec,
  tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>,
  baseModelName: string | null,
  write: FileWriter = durableWrite,
): Promise<void> {
  const [weightsName, configName] = ADAPTER_FOLDER_FILES;
  const weights = writeSafetensors(tensors, { format: 'pt' }, join(dir, weightsName));
  const files = [
    { name: weightsName, bytes: weights },
    { name: configName, bytes: adapterConfigJson(spec, baseModelName) },
  ];
  await writeFolderAtomic(dir, files, 'the adapter folder', write);
}

/** The two files of a model folder the CLI writes (full-rank and ReLoRA training). */
export const MODEL_FOLDER_FILES = ['model.safetensors', 'config.json'] as const;

/**
 * A trained model as a folder that loads as it is: model.safetensors with HF keys in F32, and
 * config.json as read but saying float32 (merged-folder.ts), written as a whole (writeFolderAtomic).
 */
export async function writeModelFolder(
  dir: string,
  configJson: string,
  weights: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>,
  write: FileWriter = durableWrite,
): Promise<void> {
  const [weightsName, configName] = MODEL_FOLDER_FILES;
  const files = [
    { name: weightsName, bytes: writeSafetensors(weights, { format: 'pt' }, join(dir, weightsName)) },
    { name: configName, bytes: float32ConfigJson(configJson) },
  ];
  await writeFolderAtomic(dir, files, 'the model folder', write);
}

/**
 * Checks, before any work, that a file can be written at `path`: not a folder (nor a device), in a
 * folder that exists and takes new files.
 */
export async function checkOutputFile(path: string, what: string): Promise<void> {
  const abs = resolve(path);
  let st: Awaited<ReturnType<typeof stat>> | null;
  try {
    st = await stat(abs).catch((e: unknown) => (codeOf(e) === 'ENOENT' || codeOf(e) === 'ENOTDIR' ? null : Promise.reject(e)));
  } catch (e) {
    throw outputError(path, `cannot write ${what}`, e);
  }
  if (st?.isDirectory()) throw new OutputError(path, `cannot write ${what}: it is a folder (EISDIR)`, 'EISDIR');
  // Renamed over, a device or a pipe would be replaced by a regular file: never that.
  if (st && !st.isFile()) throw new OutputError(path, `cannot write ${what}: it exists and is not a regular file`);
  const parent = dirname(abs);
  let pst: Awaited<ReturnType<typeof stat>>;
  try {
    pst = await stat(parent);
  } catch (e) {
    const problem = codeOf(e) === 'ENOENT' ? `cannot write ${what}: its folder ${parent} does not exist` : `cannot write ${what}`;
    throw outputError(path, problem, e);
  }
  if (!pst.isDirectory()) throw new OutputError(path, `cannot write ${what}: ${parent} is a file, not a folder (ENOTDIR)`, 'ENOTDIR');
  const probe = join(parent, `.${basename(abs)}.probe-${suffix()}`);
  try {
    await (await open(probe, 'wx')).close();
  } catch (e) {
    throw outputError(path, `cannot write ${what}: cannot create a file in ${parent}`, e);
  }
  await unlink(probe).catch(() => undefined);
}

/**
 * Writes to `path.tmp-<pid>` and renames over `path`: rename is atomic on one filesystem, so a
 * crash or full disk mid-write never leaves a half-written checkpoint under the real name. A
 * failure is an OutputError naming `path` and the cause, with the temp file removed.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string, write: FileWriter = durableWrite): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await rm(tmp, { force: true });
    await write(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw outputError(path, 'cannot write the file', e);
  }
}
