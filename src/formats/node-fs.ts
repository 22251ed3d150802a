/**
 * Node-only helpers: a directory as the model loader's FileSource, read a PEFT adapter folder from disk, and write files
 * atomically. Everything else in src/formats is byte/string based and also runs in the browser;
 * keep `node:` imports confined to this file.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from './errors';
import type { ModelConfig } from './hf-config';
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

/**
 * Writes a PEFT adapter folder that `PeftModel.from_pretrained` can load: the config, and the
 * tensors as F32 safetensors with the `{"format": "pt"}` metadata PEFT itself writes.
 */
export async function writeAdapterFolder(
  dir: string,
  spec: AdapterSpec,
  tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>,
  baseModelName: string | null,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const weightsPath = join(dir, 'adapter_model.safetensors');
  await writeFileAtomic(weightsPath, writeSafetensors(tensors, { format: 'pt' }, weightsPath));
  await writeFileAtomic(join(dir, 'adapter_config.json'), adapterConfigJson(spec, baseModelName));
}

/**
 * Writes to `path.tmp-<pid>` and renames over `path`: rename is atomic on one filesystem, so a
 * crash or full disk mid-write never leaves a half-written checkpoint under the real name.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}
