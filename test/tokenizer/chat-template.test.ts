import { describe, expect, it } from 'vitest';
import { ChatTemplateError } from '../../src/data/chat-template';
import { FormatError } from '../../src/formats/errors';
import { loadTokenizer } from '../../src/tokenizer/load';
import {
  GEMMA3_CONFIG,
  LLAMA3_CONFIG,
  QWEN25_CONFIG,
  QWEN25_TEMPLATE,
  QWEN3_CONFIG,
  SPECIAL,
  VOCAB_SIZE,
  chatTokenizerJson,
  expectedIds,
} from './chat-tokenizers';

const QWEN_SYSTEM = '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n';
const hi = [{ role: 'user', content: 'Hi' }];
const withConfig = (config: object) => loadTokenizer(chatTokenizerJson(), JSON.stringify(config));

describe('chat templates through @huggingface/jinja', () => {
  it('the test tokenizer maps bytes to themselves and each special token to its id', () => {
    const tok = loadTokenizer(chatTokenizerJson(), QWEN25_CONFIG);
    expect(tok.vocabSize).toBe(VOCAB_SIZE);
    expect(tok.encode('<|im_start|>user\nHi<|im_end|>')).toEqual([256, 117, 115, 101, 114, 10, 72, 105, 257]);
    expect(expectedIds('<|im_start|>user\nHi<|im_end|>')).toEqual([256, 117, 115, 101, 114, 10, 72, 105, 257]);
  });

  it('Qwen2.5: default system message, and add_generation_prompt opens the assistant turn', () => {
    const tok = loadTokenizer(chatTokenizerJson(), QWEN25_CONFIG);
    expect(tok.renderChat(hi, true)).toBe(`${QWEN_SYSTEM}<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n`);
    expect(tok.renderChat(hi, false)).toBe(`${QWEN_SYSTEM}<|im_start|>user\nHi<|im_end|>\n`);
    const own = [{ role: 'system', content: 'Be brief.' }, ...hi];
    expect(tok.renderChat(own, true)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('Gemma 3: bos first, the system message folded into the first user turn, the assistant is "model"', () => {
    const tok = loadTokenizer(chatTokenizerJson(), GEMMA3_CONFIG);
    expect(tok.renderChat(hi, true)).toBe('<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n');
    expect(tok.renderChat([{ role: 'system', content: 'Be brief.' }, ...hi, { role: 'assistant', content: ' Hello ' }], false)).toBe(
      '<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n',
    );
  });

  it('Qwen3: the last answer carries an empty think block', () => {
    const tok = loadTokenizer(chatTokenizerJson(), QWEN3_CONFIG);
    expect(tok.renderChat(hi, true)).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(tok.renderChat([...hi, { role: 'assistant', content: 'Hello' }], false)).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello<|im_end|>\n',
    );
  });

  it('finds the end-of-turn token each template writes after the answer', () => {
    const cases: [string, string, number][] = [
      [QWEN25_CONFIG, '<|im_end|>', SPECIAL['<|im_end|>']],
      [QWEN3_CONFIG, '<|im_end|>', SPECIAL['<|im_end|>']],
      [GEMMA3_CONFIG, '<end_of_turn>', SPECIAL['<end_of_turn>']],
      [LLAMA3_CONFIG, '<|eot_id|>', SPECIAL['<|eot_id|>']],
    ];
    for (const [config, token, id] of cases) {
      const tok = loadTokenizer(chatTokenizerJson(), config);
      expect([tok.endOfTurn, tok.endOfTurnId]).toEqual([token, id]);
    }
    // Gemma's eos_token is not its end-of-turn token: both are stop tokens.
    expect(loadTokenizer(chatTokenizerJson(), GEMMA3_CONFIG).eosId).toBe(SPECIAL['<eos>']);
  });

  it('the default template (no chat_template) ends a turn with the eos token; without eos there is none', () => {
    const tok = withConfig({ eos_token: '<eos>' });
    expect([tok.hasChatTemplate, tok.endOfTurn, tok.endOfTurnId]).toEqual([false, '<eos>', SPECIAL['<eos>']]);
    expect(loadTokenizer(chatTokenizerJson(), null).endOfTurn).toBeNull();
  });

  it('a template that writes no added token after the answer has no end-of-turn token', () => {
    const tok = withConfig({ chat_template: "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}" });
    expect([tok.endOfTurn, tok.endOfTurnId]).toEqual([null, null]);
  });

  it('takes transformers\' list of named templates by its "default"', () => {
    const tok = withConfig({
      chat_template: [
        { name: 'tool_use', template: 'tools' },
        { name: 'default', template: QWEN25_TEMPLATE },
      ],
    });
    expect(tok.renderChat(hi, true)).toBe(`${QWEN_SYSTEM}<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n`);
  });
});

describe('chat template errors', () => {
  const loadError = (template: unknown): FormatError => {
    try {
      withConfig({ chat_template: template });
    } catch (e) {
      expect(e).toBeInstanceOf(FormatError);
      return e as FormatError;
    }
    throw new Error('expected a FormatError');
  };

  it('a template that does not parse fails the load, naming tokenizer_config.json and chat_template', () => {
    expect(loadError('{% if %}x{% endif %}').message).toBe(
      'tokenizer_config.json: chat_template is not a valid Jinja template (Unexpected token: CloseStatement)',
    );
    const unclosed = loadError("{% for m in messages %}{{ m['content'] }}");
    expect(unclosed.file).toBe('tokenizer_config.json');
    expect(unclosed.problem).toMatch(/^chat_template is not a valid Jinja template \(/);
  });

  it('a chat_template that is neither a string nor a named list fails the load', () => {
    expect(loadError(42).message).toBe(
      'tokenizer_config.json: chat_template must be a string or a list of {name, template} with a "default", got 42',
    );
    expect(loadError([{ name: 'tool_use', template: 'x' }]).problem).toMatch(/with a "default", got an array$/);
  });

  it("raise_exception(...) while rendering throws a ChatTemplateError with the template's message", () => {
    const tok = loadTokenizer(chatTokenizerJson(), GEMMA3_CONFIG);
    const twoUsers = [...hi, { role: 'user', content: 'again' }];
    expect(() => tok.renderChat(twoUsers, true)).toThrow(ChatTemplateError);
    expect(() => tok.renderChat(twoUsers, true)).toThrow('Conversation roles must alternate user/assistant/user/assistant/...');
  });
});
