/**
 * generation_config.json: the model's end-of-sequence ids and its authors' sampling defaults.
 * Instruct models list several stop ids here (Qwen2.5: <|im_end|> and <|endoftext|>; Gemma 3:
 * <eos> and <end_of_turn>; Llama 3.1: three), which the tokenizer's single eos_token misses.
 */
import { FormatError, describeValue, parseJsonObject } from './errors';

/** Only what the engine's sampler can follow (it has no top_p or repetition penalty). */
export interface GenerationDefaults {
  /** 0 = greedy. */
  readonly temperature?: number;
  /** 0 = no top-k cut. */
  readonly topK?: number;
  readonly maxNewTokens?: number;
}

export interface GenerationConfig {
  readonly eosTokenIds: number[];
  readonly defaults: GenerationDefaults;
}

// transformers' GenerationConfig defaults, which apply when do_sample is true and a field is absent.
const HF_TEMPERATURE = 1;
const HF_TOP_K = 50;

/** `vocabSize` is config.json's: a stop id at or beyond it could never be sampled. */
export function parseGenerationConfig(text: string, file: string, vocabSize: number): GenerationConfig {
  const o = parseJsonObject(text, file, 'generation config');
  return { eosTokenIds: eosIds(o.eos_token_id, file, vocabSize), defaults: samplingDefaults(o, file) };
}

function eosIds(v: unknown, file: string, vocabSize: number): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  for (const id of list) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) {
      throw new FormatError(
        file,
        `eos_token_id must be a token id or a list of token ids, got ${describeValue(Array.isArray(v) ? id : v)}`,
      );
    }
    if ((id as number) >= vocabSize)
      throw new FormatError(file, `eos_token_id ${id} is beyond the vocabulary (config.json's vocab_size is ${vocabSize})`);
  }
  return list as number[];
}

/**
 * As transformers reads the file: without `do_sample: true` decoding is greedy whatever
 * temperature/top_k say, and with it an absent temperature or top_k takes the library default.
 */
function samplingDefaults(o: Record<string, unknown>, file: string): GenerationDefaults {
  const doSample = optional<boolean>(o, 'do_sample', file, (v) => typeof v === 'boolean', 'true or false');
  const temperature = optional<number>(
    o,
    'temperature',
    file,
    (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
    'a number ≥ 0',
  );
  const topK = optional<number>(o, 'top_k', file, (v) => Number.isSafeInteger(v) && (v as number) >= 0, 'an integer ≥ 0');
  const maxNewTokens = optional<number>(
    o,
    'max_new_tokens',
    file,
    (v) => Number.isSafeInteger(v) && (v as number) > 0,
    'a positive integer',
  );
  const sampling = doSample === true ? { temperature: temperature ?? HF_TEMPERATURE, topK: topK ?? HF_TOP_K } : { temperature: 0 };
  return maxNewTokens === undefined ? sampling : { ...sampling, maxNewTokens };
}

/** A field's value, or undefined when absent or null (transformers writes null for "unset"). */
function optional<T>(o: Record<string, unknown>, field: string, file: string, ok: (v: unknown) => boolean, what: string): T | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (!ok(v)) throw new FormatError(file, `${field} must be ${what}, got ${describeValue(v)}`);
  return v as T;
}
