// Chat records through real chat templates (Qwen2.5, Qwen3, Gemma 3) and a real tokenizer.json:
// exact ids, and labels that learn the answer and its end-of-turn token but not the prompt.
import { describe, expect, it } from 'vitest';
import { tokenizeDataset } from '../../src/data/tokenize';
import type { ChatMessage, DatasetRecord } from '../../src/data/types';
import { loadTokenizer } from '../../src/tokenizer/load';
import { GEMMA3_CONFIG, QWEN25_CONFIG, QWEN3_CONFIG, chatTokenizerJson, expectedIds } from '../tokenizer/chat-tokenizers';

const qwen25 = loadTokenizer(chatTokenizerJson(), QWEN25_CONFIG);
const qwen3 = loadTokenizer(chatTokenizerJson(), QWEN3_CONFIG);
const gemma3 = loadTokenizer(chatTokenizerJson(), GEMMA3_CONFIG);
const chat = (...messages: ChatMessage[]): DatasetRecord => ({ kind: 'chat', messages });
const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });
const masked = (n: number) => new Array<number>(n).fill(-100);

const HELLO = [72, 101, 108, 108, 111];

describe('chat examples through the tokenizer’s own template', () => {
  it('Qwen2.5: the prompt (with the default system message) is masked; the answer and <|im_end|> are learned', () => {
    const { sequences, badRows } = tokenizeDataset([chat(user('Hi'), assistant('Hello'))], qwen25, 256);
    const prompt = expectedIds(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(badRows).toEqual([]);
    expect(prompt).toHaveLength(99);
    expect(sequences).toEqual([{ ids: [...prompt, ...HELLO, 257], labels: [...masked(99), ...HELLO, 257] }]);
    // …<|im_start|>assistant\n Hello <|im_end|>: the newline after <|im_end|> is not a target.
    expect(sequences[0]!.ids.slice(-8)).toEqual([116, 10, 72, 101, 108, 108, 111, 257]);
  });

  it('Gemma 3: <bos> and the user turn are masked; the answer and <end_of_turn> are learned', () => {
    const { sequences } = tokenizeDataset([chat(user('Hi'), assistant('Hello'))], gemma3, 64);
    const prompt = [260, 258, 117, 115, 101, 114, 10, 72, 105, 259, 10, 258, 109, 111, 100, 101, 108, 10];
    expect(sequences).toEqual([{ ids: [...prompt, ...HELLO, 259], labels: [...masked(prompt.length), ...HELLO, 259] }]);
  });

  it('Gemma 3 multi-turn: only the last answer is learned, earlier answers stay in the masked prompt', () => {
    const { sequences } = tokenizeDataset([chat(user('Hi'), assistant('Hello'), user('Bye'), assistant('Ok'))], gemma3, 64);
    const s = sequences[0]!;
    const prompt = expectedIds(
      '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n' +
        '<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n',
    );
    expect(s.ids).toEqual([...prompt, 79, 107, 259]);
    expect(s.labels).toEqual([...masked(prompt.length), 79, 107, 259]);
  });

  it('Qwen3: the empty think block before the answer is part of what is learned', () => {
    const { sequences } = tokenizeDataset([chat(user('Hi'), assistant('Hello'))], qwen3, 64);
    const prompt = expectedIds('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    const answer = expectedIds('<think>\n\n</think>\n\nHello<|im_end|>');
    expect(answer.at(-1)).toBe(257);
    expect(sequences).toEqual([{ ids: [...prompt, ...answer], labels: [...masked(prompt.length), ...answer] }]);
  });

  it("a conversation the template refuses (raise_exception) is a bad row with the template's message", () => {
    const records = [
      chat(user('Hi'), assistant('Hello')),
      chat(user('Hi'), user('again'), assistant('Hello')),
      chat(user('Yo'), assistant('Ok')),
    ];
    const { sequences, badRows } = tokenizeDataset(records, gemma3, 64);
    expect(badRows).toEqual([
      {
        row: 2,
        reason: 'the chat template refused this conversation: Conversation roles must alternate user/assistant/user/assistant/...',
      },
    ]);
    expect(sequences.map((s) => s.labels.filter((l) => l !== -100))).toEqual([
      [...HELLO, 259],
      [79, 107, 259],
    ]);
  });
});
