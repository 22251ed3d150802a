/**
 * A Hugging Face model folder from blobs (browser files or fetched bundled files):
 * config.json, tokenizer.json (+ tokenizer_config.json, generation_config.json), and
 * model.safetensors or model.safetensors.index.json with its shards.
 */
import { canonicalizeWeights, parseModelConfig, type ModelConfig } from '../formats/hf-config';
import { FormatError } from '../formats/errors';
import { parseGenerationConfig, type GenerationConfig, type GenerationDefaults } from '../formats/generation-config';
import { loadShardedIndex, parseSafetensors, type TensorEntry } from '../formats/safetensors';
import { loadTokenizer, type LoadedTokenizer } from '../tokenizer/load';

export interface ModelFolder {
  readonly config: ModelConfig;
  readonly configJson: string;
  readonly weights: Map<string, TensorEntry>;
  readonly tokenizer: LoadedTokenizer;
  /** Generation stops at any of these: generation_config's eos ids, the tokenizer's EOS and end-of-turn token. */
  readonly stopTokenIds: number[];
  /** generation_config.json's sampling defaults ({} without the file). */
  readonly generationDefaults: GenerationDefaults;
  /** tokenizer.json, tokenizer_config.json and generation_config.json as read (those present), for a merged export. */
  readonly textFiles: readonly { readonly name: string; readonly text: string }[];
}

export type BlobsByName = ReadonlyMap<string, Blob>;

const INDEX_FILE = 'model.safetensors.index.json';

export async function loadModelFolder(files: BlobsByName): Promise<ModelFolder> {
  const configJson = await requiredText(files, 'config.json');
  const config = parseModelConfig(configJson, 'config.json');
  const tokenizerConfig = files.has('tokenizer_config.json') ? await files.get('tokenizer_config.json')!.text() : null;
  const tokenizerJson = await requiredText(files, 'tokenizer.json');
  const tokenizer = loadTokenizer(tokenizerJson, tokenizerConfig);
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new FormatError('tokenizer.json', `has ${tokenizer.vocabSize} tokens but config.json says vocab_size ${config.vocabSize}`);
  }
  const generation = await readGenerationConfig(files, config.vocabSize);
  const raw = await readWeights(files);
  return {
    config, configJson, weights: canonicalizeWeights(config, raw.tensors, raw.file), tokenizer,
    stopTokenIds: stopTokenIds(generation, tokenizer, config.vocabSize), generationDefaults: generation?.defaults ?? {},
    textFiles: [
      { name: 'tokenizer.json', text: tokenizerJson },
      ...(tokenizerConfig === null ? [] : [{ name: 'tokenizer_config.json', text: tokenizerConfig }]),
      ...(files.has(GENERATION_FILE) ? [{ name: GENERATION_FILE, text: await files.get(GENERATION_FILE)!.text() }] : []),
    ],
  };
}

const GENERATION_FILE = 'generation_config.json';

async function readGenerationConfig(files: BlobsByName, vocabSize: number): Promise<GenerationConfig | null> {
  const blob = files.get(GENERATION_FILE);
  return blob ? parseGenerationConfig(await blob.text(), GENERATION_FILE, vocabSize) : null;
}

/**
 * Instruct models end a reply with the end-of-turn token, which is often not the tokenizer's
 * eos_token (Gemma's <end_of_turn>), so all three sources count. generation_config's ids are
 * range-checked by its parser; a tokenizer's ids can have gaps, so its count proves nothing.
 */
export function stopTokenIds(generation: GenerationConfig | null, tokenizer: Pick<LoadedTokenizer, 'eosId' | 'endOfTurnId'>, vocabSize: number): number[] {
  for (const id of [tokenizer.eosId, tokenizer.endOfTurnId]) {
    if (id !== null && id >= vocabSize) throw new FormatError('tokenizer.json', `stop token id ${id} is beyond config.json's vocab_size ${vocabSize}`);
  }
  const ids = [...(generation?.eosTokenIds ?? []), tokenizer.eosId, tokenizer.endOfTurnId];
  return [...new Set(ids.filter((id): id is number => id !== null))];
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
