/**
 * A Hugging Face model folder from blobs (browser files or fetched bundled files):
 * config.json, tokenizer.json (+ tokenizer_config.json), and model.safetensors or
 * model.safetensors.index.json with its shards.
 */
import { canonicalizeWeights, parseModelConfig, type ModelConfig } from '../formats/hf-config';
import { FormatError } from '../formats/errors';
import { loadShardedIndex, parseSafetensors, type TensorEntry } from '../formats/safetensors';
import { loadTokenizer, type LoadedTokenizer } from '../tokenizer/load';

export interface ModelFolder {
  readonly config: ModelConfig;
  readonly configJson: string;
  readonly weights: Map<string, TensorEntry>;
  readonly tokenizer: LoadedTokenizer;
}

export type BlobsByName = ReadonlyMap<string, Blob>;

const INDEX_FILE = 'model.safetensors.index.json';

export async function loadModelFolder(files: BlobsByName): Promise<ModelFolder> {
  const configJson = await requiredText(files, 'config.json');
  const config = parseModelConfig(configJson, 'config.json');
  const tokenizerConfig = files.has('tokenizer_config.json') ? await files.get('tokenizer_config.json')!.text() : null;
  const tokenizer = loadTokenizer(await requiredText(files, 'tokenizer.json'), tokenizerConfig);
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new FormatError('tokenizer.json', `has ${tokenizer.vocabSize} tokens but config.json says vocab_size ${config.vocabSize}`);
  }
  const raw = await readWeights(files);
  return { config, configJson, weights: canonicalizeWeights(config, raw.tensors, raw.file), tokenizer };
}

async function requiredText(files: BlobsByName, name: string): Promise<string> {
  const blob = files.get(name);
  if (!blob) throw new FormatError(name, 'missing from the model folder');
  return blob.text();
}

async function readWeights(files: BlobsByName): Promise<{ tensors: Map<string, TensorEntry>; file: string }> {
  const single = files.get('model.safetensors');
  if (single) return { tensors: parseSafetensors(await bytesOf(single), 'model.safetensors').tensors, file: 'model.safetensors' };
  const index = files.get(INDEX_FILE);
  if (!index) {
    throw new FormatError('model.safetensors', `missing from the model folder (nor is there a sharded ${INDEX_FILE})`);
  }
  const { weightMap, shards } = loadShardedIndex(await index.text(), INDEX_FILE);
  const tensors = new Map<string, TensorEntry>();
  for (const shard of shards) {
    const blob = files.get(shard);
    if (!blob) throw new FormatError(shard, `listed in ${INDEX_FILE} but missing from the folder`);
    for (const [key, t] of parseSafetensors(await bytesOf(blob), shard).tensors) {
      if (weightMap[key] === shard) tensors.set(key, t);
    }
  }
  return { tensors, file: INDEX_FILE };
}

async function bytesOf(blob: Blob): Promise<Uint8Array> {
  return new Uint8Array(await blob.arrayBuffer());
}
