/**
 * The one loader of a Hugging Face model folder, for the CLI, the worker, the scripts and the
 * benches: config.json, model.safetensors or model.safetensors.index.json with its shards, and
 * (when asked for) tokenizer.json + tokenizer_config.json + generation_config.json. It reads
 * through a FileSource: a directory on disk (`directorySource` in node-fs.ts) or the files the
 * studio was given (`blobSource`). Every error names the file (as the source spells its path)
 * and the problem.
 */
import { FormatError, quote } from './errors';
import { parseGenerationConfig, type GenerationConfig, type GenerationDefaults } from './generation-config';
import { canonicalizeWeights, parseModelConfig, type ModelConfig } from './hf-config';
import {
  decodeTensor,
  loadShardedIndex,
  readSafetensorsHeader,
  type SafetensorsHeader,
  type TensorEntry,
  type TensorInfo,
} from './safetensors';
import { loadTokenizer, type LoadedTokenizer } from '../tokenizer/load';

/** Read access to the files of one folder (no subfolders). */
export interface FileSource {
  /** What an error about the folder as a whole names: its path on disk, or the picked folder's name. */
  readonly name: string;
  /** The names of the files in the folder. */
  list(): readonly string[];
  /** How errors name one of its files: a path on disk, the bare name in the browser. */
  pathOf(name: string): string;
  /**
   * A file's bytes. A missing or unreadable file is a FormatError naming the file by its bare
   * name, as every error inside the loader does; loadModelFolder then names it by pathOf.
   */
  bytes(name: string): Promise<Uint8Array>;
  text(name: string): Promise<string>;
}

/** Files handed over as Blobs (the studio's picker, drop zone or fetched bundled files). */
export function blobSource(files: ReadonlyMap<string, Blob>, name = 'the model folder'): FileSource {
  const blob = (file: string): Blob => {
    const b = files.get(file);
    if (!b) throw new FormatError(file, 'file not found');
    return b;
  };
  return {
    name,
    list: () => [...files.keys()],
    pathOf: (file) => file,
    bytes: async (file) => new Uint8Array(await blob(file).arrayBuffer()),
    text: (file) => blob(file).text(),
  };
}

/**
 * A loaded model folder. Without `{ tokenizer: true }` (eval, train and grads need no text side)
 * the tokenizer is null, there are no stop ids or generation defaults, and generation_config.json
 * and the tokenizer files are not read.
 */
export interface ModelFolder<Tok extends LoadedTokenizer | null = LoadedTokenizer | null> {
  readonly config: ModelConfig;
  /** config.json as read. */
  readonly configJson: string;
  /** Keyed by canonical HF key (GPT-2 keys always with `transformer.`), shapes checked against the config. */
  readonly weights: Map<string, TensorEntry>;
  readonly tokenizer: Tok;
  /** Generation stops at any of these: generation_config's eos ids, the tokenizer's EOS and end-of-turn token. */
  readonly stopTokenIds: number[];
  /** generation_config.json's sampling defaults ({} without the file). */
  readonly generationDefaults: GenerationDefaults;
  /** tokenizer.json, tokenizer_config.json and generation_config.json as read (those present), for a merged export. */
  readonly textFiles: readonly { readonly name: string; readonly text: string }[];
}

/** A model folder with its tokenizer (what generation and the studio need). */
export type TextModelFolder = ModelFolder<LoadedTokenizer>;

export interface LoadOptions<T extends boolean> {
  /** Read tokenizer.json (required then), tokenizer_config.json and generation_config.json. */
  readonly tokenizer?: T;
}

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
const TOKENIZER = 'tokenizer.json';
const TOKENIZER_CONFIG = 'tokenizer_config.json';
const GENERATION = 'generation_config.json';
/** Stands for the folder itself in errors raised below (they name files by their bare names). */
const FOLDER = '\0folder';

export async function loadModelFolder<T extends boolean = false>(
  source: FileSource,
  opts: LoadOptions<T> = {},
): Promise<ModelFolder<T extends true ? LoadedTokenizer : null>> {
  try {
    return (await load(source, opts.tokenizer === true)) as ModelFolder<T extends true ? LoadedTokenizer : null>;
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(e.file === FOLDER ? source.name : source.pathOf(e.file), e.problem);
    throw e;
  }
}

async function load(source: FileSource, withTokenizer: boolean): Promise<ModelFolder> {
  const present = new Set(source.list());
  const required = (name: string, hint = ''): Promise<string> => {
    if (!present.has(name)) throw new FormatError(name, `file not found${hint}`);
    return source.text(name);
  };
  const optional = async (name: string): Promise<string | null> => (present.has(name) ? source.text(name) : null);

  const configJson = await required('config.json');
  const config = parseModelConfig(configJson, 'config.json');
  let text: Pick<ModelFolder, 'tokenizer' | 'stopTokenIds' | 'generationDefaults' | 'textFiles'> = {
    tokenizer: null,
    stopTokenIds: [],
    generationDefaults: {},
    textFiles: [],
  };
  if (withTokenizer) {
    const tokenizerConfig = await optional(TOKENIZER_CONFIG);
    const tokenizerJson = await required(TOKENIZER);
    const tokenizer = loadTokenizer(tokenizerJson, tokenizerConfig, config.vocabSize);
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new FormatError(TOKENIZER, `has ${tokenizer.vocabSize} tokens but config.json says vocab_size ${config.vocabSize}`);
    }
    const generationJson = await optional(GENERATION);
    const generation = generationJson === null ? null : parseGenerationConfig(generationJson, GENERATION, config.vocabSize);
    text = {
      tokenizer,
      stopTokenIds: stopTokenIds(generation, tokenizer, config.vocabSize),
      generationDefaults: generation?.defaults ?? {},
      textFiles: [
        { name: TOKENIZER, text: tokenizerJson },
        ...(tokenizerConfig === null ? [] : [{ name: TOKENIZER_CONFIG, text: tokenizerConfig }]),
        ...(generationJson === null ? [] : [{ name: GENERATION, text: generationJson }]),
      ],
    };
  }
  return { config, configJson, weights: await readWeights(config, source, present), ...text };
}

/**
 * The checkpoint's tensors, keyed by canonical name. Every header is read and checked first and
 * the shapes are compared with the config before any tensor is decoded, so a config that does
 * not fit the weights (a layer count with no weights behind it, other sizes) fails at once,
 * naming the first missing or mis-shaped key, without converting gigabytes first.
 */
async function readWeights(config: ModelConfig, source: FileSource, present: ReadonlySet<string>): Promise<Map<string, TensorEntry>> {
  const located = new Map<string, Located>();
  let file: string;
  if (present.has(SINGLE)) {
    file = SINGLE;
    const bytes = await source.bytes(SINGLE);
    const header = readSafetensorsHeader(bytes, SINGLE);
    for (const [name, info] of header.tensors) located.set(name, { bytes, header, info, shape: info.shape });
  } else {
    if (!present.has(INDEX)) {
      const why = present.has('pytorch_model.bin')
        ? ' (pytorch_model.bin is a pickle and is not supported; convert it to safetensors)'
        : '';
      throw new FormatError(FOLDER, `neither ${SINGLE} nor ${INDEX} found${why}`);
    }
    file = INDEX;
    const { weightMap, shards } = loadShardedIndex(await source.text(INDEX), INDEX);
    for (const shard of shards) {
      if (!present.has(shard)) throw new FormatError(shard, `file not found (listed in ${INDEX})`);
      const bytes = await source.bytes(shard);
      const header = readSafetensorsHeader(bytes, shard);
      for (const [name, inShard] of Object.entries(weightMap)) {
        if (inShard !== shard) continue;
        const info = header.tensors.get(name);
        if (!info) throw new FormatError(shard, `tensor ${quote(name)} is not in this shard, but ${INDEX} says it is`);
        located.set(name, { bytes, header, info, shape: info.shape });
      }
    }
  }
  const canonical = canonicalizeWeights(config, located, file);
  const out = new Map<string, TensorEntry>();
  for (const [key, t] of canonical) out.set(key, decodeTensor(t.bytes, t.header, t.info));
  return out;
}

/** A tensor found in a checkpoint file, not yet decoded. */
interface Located {
  readonly bytes: Uint8Array;
  readonly header: SafetensorsHeader;
  readonly info: TensorInfo;
  readonly shape: readonly number[];
}

/**
 * Instruct models end a reply with the end-of-turn token, which is often not the tokenizer's
 * eos_token (Gemma's <end_of_turn>), so all three sources count. generation_config's ids are
 * range-checked by its parser; a tokenizer's ids can have gaps, so its count proves nothing.
 */
export function stopTokenIds(
  generation: GenerationConfig | null,
  tokenizer: Pick<LoadedTokenizer, 'eosId' | 'endOfTurnId'>,
  vocabSize: number,
): number[] {
  for (const id of [tokenizer.eosId, tokenizer.endOfTurnId]) {
    if (id !== null && id >= vocabSize)
      throw new FormatError(TOKENIZER, `stop token id ${id} is beyond config.json's vocab_size ${vocabSize}`);
  }
  const ids = [...(generation?.eosTokenIds ?? []), tokenizer.eosId, tokenizer.endOfTurnId];
  return [...new Set(ids.filter((id): id is number => id !== null))];
}
