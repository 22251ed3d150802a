import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { bpeTokenizerJson, byteToUnicode, END_OF_TEXT, trainBpe } from '../../src/tokenizer/bpe-trainer';
import { loadTokenizer } from '../../src/tokenizer/load';

const corpus = [
  'In the beginning God created the heaven and the earth.',
  'And the earth was without form, and void; and darkness was upon the face of the deep.',
  'And God said, Let there be light: and there was light.',
]
  .join('\n')
  .repeat(20);

describe('byte-level BPE trainer', () => {
  it('maps all 256 bytes to distinct printable characters', () => {
    expect(new Set(byteToUnicode()).size).toBe(256);
  });

  it('learns frequent merges, and the tokenizer library loads and round-trips its tokenizer.json', () => {
    const model = trainBpe(corpus, 320);
    expect(model.vocab.size).toBe(319);
    expect(model.vocab.has('Ġthe')).toBe(true); // " the" is the most common word here
    const tokenizer = new Tokenizer(bpeTokenizerJson(model), {});
    for (const text of ['And God said, Let there be light.', 'naïve café – 42 ✓', 'the earth\nthe deep']) {
      const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
      expect(tokenizer.decode(ids)).toBe(text);
    }
    const common = tokenizer.encode(' the earth', { add_special_tokens: false }).ids;
    expect(common.length).toBeLessThan(' the earth'.length / 2); // merges compress what they saw
    expect(tokenizer.token_to_id(END_OF_TEXT)).toBe(319);
  });

  it('the studio tokenizer decodes a generation that stopped at once (no ids) to an empty string', () => {
    const tokenizer = loadTokenizer(JSON.stringify(bpeTokenizerJson(trainBpe(corpus, 300))), null);
    expect(tokenizer.decode([])).toBe('');
    expect(tokenizer.decode(tokenizer.encode('the earth'))).toBe('the earth');
  });
});
