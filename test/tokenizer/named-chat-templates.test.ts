import { describe, expect, it } from 'vitest';
import { tokenizeDataset, tokenizeRecord } from '../../src/data/tokenize';
import type { DatasetRecord } from '../../src/data/types';
import { loadTokenizer } from '../../src/tokenizer/load';
import { chatTokenizerJson, QWEN25_TEMPLATE, SPECIAL } from './chat-tokenizers';

const config = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ eos_token: '<|endoftext|>', bos_token: '<|begin_of_text|>', ...extra });
const chat: DatasetRecord = {
  kind: 'chat',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi?' },
    { role: 'assistant', content: 'Hello!' },
  ],
};
const text = (ids: readonly number[]) =>
  ids.map((id) => Object.entries(SPECIAL).find(([, v]) => v === id)?.[0] ?? String.fromCharCode(id)).join('');

describe('named chat templates for chat datasets', () => {
  const base = loadTokenizer(chatTokenizerJson(), config({ chat_template: QWEN25_TEMPLATE }));

  it("'model' is the tokenizer's own template", () => {
    expect(base.withChatTemplate('model')).toBe(base);
    expect(base.endOfTurn).toBe('<|im_end|>');
  });
  it('ChatML: the targets end with <|im_end|>', () => {
    const t = loadTokenizer(chatTokenizerJson(), config()).withChatTemplate('chatml');
    expect(t.hasChatTemplate).toBe(true);
    expect([t.endOfTurn, t.endOfTurnId]).toEqual(['<|im_end|>', SPECIAL['<|im_end|>']]);
    const ex = tokenizeRecord(chat, t);
    if (typeof ex === 'string') throw new Error(ex);
    expect(text(ex.promptIds)).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n');
    expect(text(ex.completionIds)).toBe('Hello!<|im_end|>');
    expect(ex.completionIds.at(-1)).toBe(SPECIAL['<|im_end|>']);
  });
  it('Llama 2: [INST] with the system message inside, the answer ends with EOS', () => {
    const t = base.withChatTemplate('llama2');
    expect(t.endOfTurn).toBe('<|endoftext|>');
    const ex = tokenizeRecord(chat, t);
    if (typeof ex === 'string') throw new Error(ex);
    expect(text(ex.promptIds)).toBe('<|begin_of_text|>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi? [/INST]');
    expect(text(ex.completionIds)).toBe(' Hello! <|endoftext|>');
    expect(ex.completionIds.at(-1)).toBe(SPECIAL['<|endoftext|>']);
  });
  it('Alpaca: ### Instruction / ### Response, the answer ends with EOS', () => {
    const t = base.withChatTemplate('alpaca');
    const ex = tokenizeRecord(chat, t);
    if (typeof ex === 'string') throw new Error(ex);
    expect(text(ex.promptIds)).toBe('Be brief.\n\n### Instruction:\nHi?\n\n### Response:\n');
    expect(text(ex.completionIds)).toBe('Hello!<|endoftext|>');
    expect(ex.completionIds.at(-1)).toBe(SPECIAL['<|endoftext|>']);
  });
  it('every template ends every tokenized target with its marker', () => {
    for (const choice of ['chatml', 'llama2', 'alpaca'] as const) {
      const t = base.withChatTemplate(choice);
      const { sequences } = tokenizeDataset([chat, chat], t, 256);
      for (const s of sequences) expect(s.labels.at(-1), choice).toBe(t.endOfTurnId);
    }
  });
});
