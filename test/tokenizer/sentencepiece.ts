// A SentencePiece-style tokenizer.json, as Llama 2's: every word piece starts with "▁" (a space),
// and the decoder turns "▁" back into spaces and strips the one at the start of what it decodes,
// so decoding the continuation alone loses the space between the prompt and it.

export const SP_WORDS = ['The', 'film', 'was', 'cheaper', 'than', 'the', 'book', 'and', 'better'] as const;
export const SP_SPECIAL = { '<unk>': 0, '<s>': 1, '</s>': 2 } as const;

/**
 * `metaspace`: the Metaspace pre-tokenizer and decoder of tokenizer.json files written by recent
 * transformers; `llama2`: the Prepend/Replace normalizer and Replace/ByteFallback/Fuse/Strip decoder
 * of Llama 2's own tokenizer.json. Unigram pieces "▁word" for SP_WORDS, then filler "▁wN" pieces
 * up to `vocabSize`, so that every non-special id decodes to a word with its space.
 */
export function sentencePieceTokenizerJson(style: 'metaspace' | 'llama2', vocabSize = 64): string {
  const pieces: [string, number][] = Object.keys(SP_SPECIAL).map((t) => [t, 0]);
  for (const w of SP_WORDS) pieces.push([`▁${w}`, -1]);
  while (pieces.length < vocabSize) pieces.push([`▁w${pieces.length}`, -2]);
  const added = Object.entries(SP_SPECIAL).map(([content, id]) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true };
  const styled =
    style === 'metaspace'
      ? { normalizer: null, pre_tokenizer: metaspace, decoder: metaspace }
      : {
          normalizer: {
            type: 'Sequence',
            normalizers: [
              { type: 'Prepend', prepend: '▁' },
              { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
            ],
          },
          pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true },
          decoder: {
            type: 'Sequence',
            decoders: [
              { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
              { type: 'ByteFallback' },
              { type: 'Fuse' },
              { type: 'Strip', content: ' ', start: 1, stop: 0 },
            ],
          },
        };
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    ...styled,
    post_processor: null,
    model: { type: 'Unigram', unk_id: 0, vocab: pieces, byte_fallback: false },
  });
}

export const SP_TOKENIZER_CONFIG = JSON.stringify({
  tokenizer_class: 'LlamaTokenizerFast',
  bos_token: '<s>',
  eos_token: '</s>',
  unk_token: '<unk>',
});
