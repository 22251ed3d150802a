import { describe, expect, it } from 'vitest';
import { continuationText } from '../../src/generation/generate';
import { loadTokenizer } from '../../src/tokenizer/load';
import { SP_TOKENIZER_CONFIG, sentencePieceTokenizerJson } from './sentencepiece';

// Issue 18: with Llama 2's tokenizer "The film was" + "▁cheaper…" showed as "The film wascheaper…".
describe.each(['metaspace', 'llama2'] as const)('a SentencePiece-style tokenizer.json (%s)', (style) => {
  const tok = loadTokenizer(sentencePieceTokenizerJson(style), SP_TOKENIZER_CONFIG);
  const prompt = tok.encode('The film was');
  const generated = [6, 7, 8, 9]; // ▁cheaper ▁than ▁the ▁book

  it('drops the leading space when the continuation is decoded alone', () => {
    expect(prompt).toEqual([3, 4, 5]);
    expect(tok.decode(prompt)).toBe('The film was');
    expect(tok.decode(generated)).toBe('cheaper than the book');
  });
  it('keeps it when the whole sequence is decoded and the prompt taken off', () => {
    expect(continuationText(tok.decode, prompt, tok.decode(prompt), generated)).toBe(' cheaper than the book');
    expect(continuationText(tok.decode, prompt, tok.decode(prompt), generated.slice(0, 1))).toBe(' cheaper');
  });
  it('says nothing for a generation that stopped at once, and skips special tokens', () => {
    expect(continuationText(tok.decode, prompt, tok.decode(prompt), [])).toBe('');
    expect(continuationText(tok.decode, prompt, tok.decode(prompt), [2, 6])).toBe(' cheaper');
  });
});
