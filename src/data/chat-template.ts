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
