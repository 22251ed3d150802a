/**
 * Node-only helpers: read a HF model folder or a PEFT adapter folder from disk, and write files
 * atomically. Everything else in src/formats is byte/string based and also runs in the browser;
 * keep `node:` imports confined to this file.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from './errors';
import { canonicalizeWeights, parseModelConfig, type ModelConfig } from './hf-config';
import { adapterConfigJson, checkAdapterTensors, parseAdapterConfig, type AdapterSpec } from './peft';
import { loadShardedIndex, parseSafetensors, writeSafetensors, type TensorEntry } from './safetensors';

export interface ModelFolder {
  config: ModelConfig;
  /** Keyed by canonical HF key (GPT-2 keys always with `transformer.`), shapes checked against the config. */
  weights: Map<string, TensorEntry>;
}

export interface AdapterFolder {
  spec: AdapterSpec;
  /** Keyed by PEFT key (`base_model.model.<module>.lora_A.weight`, ...). */
  tensors: Map<string, TensorEntry>;
}

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';

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

export async function readModelFolder(dir: string): Promise<ModelFolder> {
  const configPath = join(dir, 'config.json');
  const config = parseModelConfig(await readText(configPath), configPath);

  const singlePath = join(dir, SINGLE);
  const single = await readOptional(singlePath);
  let weights: Map<string, TensorEntry>;
  let weightsFile: string;
  if (single) {
    weights = parseSafetensors(single, singlePath).tensors;
    weightsFile = singlePath;
  } else {
    weightsFile = join(dir, INDEX);
    const index = await readOptional(weightsFile);
    if (!index) {
      const bin = await readOptional(join(dir, 'pytorch_model.bin'));
      const why = bin ? ' (pytorch_model.bin is a pickle and is not supported; convert it to safetensors)' : '';
      throw new FormatError(dir, `neither ${SINGLE} nor ${INDEX} found${why}`);
    }
    weights = await readShards(dir, new TextDecoder().decode(index), weightsFile);
  }
  return { config, weights: canonicalizeWeights(config, weights, weightsFile) };
}

async function readShards(dir: string, indexJson: string, indexPath: string): Promise<Map<string, TensorEntry>> {
  const { weightMap, shards } = loadShardedIndex(indexJson, indexPath);
  const weights = new Map<string, TensorEntry>();
  for (const shard of shards) {
    const shardPath = join(dir, shard);
    const { tensors } = parseSafetensors(await readBytes(shardPath, ` (listed in ${INDEX})`), shardPath);
    for (const [name, file] of Object.entries(weightMap)) {
      if (file !== shard) continue;
      const t = tensors.get(name);
      if (!t) throw new FormatError(shardPath, `tensor ${JSON.stringify(name)} is not in this shard, but ${INDEX} says it is`);
      weights.set(name, t);
    }
  }
  return weights;
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
