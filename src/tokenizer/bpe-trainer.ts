/**
 * Trains a byte-level BPE vocabulary (GPT-2 style) and writes it as a Hugging Face
 * tokenizer.json, which @huggingface/tokenizers then loads like any other: the pretraining
 * script trains, the library tokenizes. Pre-tokenization uses GPT-2's split pattern.
 */

const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
export const END_OF_TEXT = '<|endoftext|>';

/** GPT-2's byte → printable-character table used by ByteLevel pre-tokenizers and decoders. */
export function byteToUnicode(): string[] {
  const printable = [...range(33, 126), ...range(161, 172), ...range(174, 255)];
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + extra++);
  }
  return table;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Counts of pre-tokenized words, each as its byte-level symbols. */
function wordCounts(text: string): Map<string, number> {
  const table = byteToUnicode();
  const utf8 = new TextEncoder();
  const counts = new Map<string, number>();
  for (const match of text.matchAll(GPT2_SPLIT)) {
    const word = Array.from(utf8.encode(match[0]), (b) => table[b]).join('');
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}

export interface BpeModel {
  readonly vocab: Map<string, number>;
  readonly merges: [string, string][];
}

/** Greedy BPE: repeatedly merge the most frequent adjacent pair until the vocabulary is full. */
export function trainBpe(text: string, vocabSize: number): BpeModel {
  const words = [...wordCounts(text)].map(([w, count]) => ({ symbols: [...w], count }));
  const vocab = new Map<string, number>(byteToUnicode().map((c, i) => [c, i]));
  const merges: [string, string][] = [];
  while (vocab.size < vocabSize - 1) {
    const best = mostFrequentPair(words);
    if (!best) break;
    const [a, b] = best;
    merges.push([a, b]);
    vocab.set(a + b, vocab.size);
    for (const w of words) w.symbols = mergePair(w.symbols, a, b);
  }
  return { vocab, merges };
}

function mostFrequentPair(words: { symbols: string[]; count: number }[]): [string, string] | null {
  const pairs = new Map<string, number>();
  for (const { symbols, count } of words) {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = `${symbols[i]}\u0000${symbols[i + 1]}`;
      pairs.set(key, (pairs.get(key) ?? 0) + count);
    }
  }
  let bestKey = '';
  let bestCount = 1; // a pair seen once is not worth a token
  for (const [key, count] of pairs) {
    if (count > bestCount || (count === bestCount && bestKey !== '' && key < bestKey)) {
      bestKey = key;
      bestCount = count;
    }
  }
  return bestKey ? (bestKey.split('\u0000') as [string, string]) : null;
}

function mergePair(symbols: string[], a: string, b: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
      out.push(a + b);
      i++;
    } else {
      out.push(symbols[i]!);
    }
  }
  return out;
}

/** The tokenizer.json of a trained model, with <|endoftext|> as the last id. */
export function bpeTokenizerJson(model: BpeModel): object {
  const vocab = Object.fromEntries(model.vocab);
  const eosId = model.vocab.size;
  vocab[END_OF_TEXT] = eosId;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: eosId, content: END_OF_TEXT, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: model.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
