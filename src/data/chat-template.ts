import type { ChatMessage } from './types';

/**
 * The template used when the tokenizer has no chat_template of its own: every message is
 *   <|role|>\n{content}\n
 * and the assistant's turn ends with the end-of-sequence token before the newline. The
 * generation prompt is "<|assistant|>\n".
 */
export function defaultChatTemplate(messages: readonly ChatMessage[], addGenerationPrompt: boolean, eosToken: string): string {
  const turns = messages.map((m) => `<|${m.role}|>\n${m.content}${m.role === 'assistant' ? eosToken : ''}\n`);
  return turns.join('') + (addGenerationPrompt ? '<|assistant|>\n' : '');
}

/**
 * A chat template failed on one conversation: its own raise_exception(...) (Gemma's "roles must
 * alternate", for instance) or a runtime error. The conversation is a bad row, not a crash.
 */
export class ChatTemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChatTemplateError';
  }
}

/** Which template renders chat rows: the tokenizer's own (or the default above), or a named one. */
export type ChatTemplateChoice = 'model' | NamedChatTemplate;
export type NamedChatTemplate = 'chatml' | 'llama2' | 'alpaca';

export interface NamedTemplateSpec {
  readonly label: string;
  /** Jinja, as a tokenizer_config.json would carry it (messages, add_generation_prompt, bos_token, eos_token). */
  readonly source: string;
  /** The text that ends an assistant turn: a literal token, or the tokenizer's EOS. */
  readonly endOfTurn: { readonly literal: string } | 'eos';
}

/**
 * ChatML (Qwen, SmolLM2-Instruct), Llama 2's [INST] format (the system message inside the first
 * user turn, each answer closed by EOS) and the Alpaca instruction format (as parse.ts renders
 * Alpaca rows), for models whose own template is missing or not the one wanted.
 */
export const NAMED_CHAT_TEMPLATES: Readonly<Record<NamedChatTemplate, NamedTemplateSpec>> = {
  chatml: {
    label: 'ChatML (<|im_start|> … <|im_end|>)',
    source:
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    endOfTurn: { literal: '<|im_end|>' },
  },
  llama2: {
    label: 'Llama 2 ([INST] … [/INST] answer EOS)',
    source:
      "{% if messages[0]['role'] == 'system' %}{% set system = '<<SYS>>\\n' + messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}{% set loop_messages = messages[1:] %}{% else %}{% set system = '' %}{% set loop_messages = messages %}{% endif %}" +
      "{% for message in loop_messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + (system if loop.first else '') + message['content'] + ' [/INST]' }}" +
      "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + ' ' + eos_token }}{% endif %}{% endfor %}",
    endOfTurn: 'eos',
  },
  alpaca: {
    label: 'Alpaca (### Instruction / ### Response, answer EOS)',
    source:
      "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}{% elif message['role'] == 'user' %}{{ '### Instruction:\\n' + message['content'] + '\\n\\n' }}" +
      "{% elif message['role'] == 'assistant' %}{{ '### Response:\\n' + message['content'] + eos_token + '\\n\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '### Response:\\n' }}{% endif %}",
    endOfTurn: 'eos',
  },
};
