/**
 * tokenizer.json (+ optional tokenizer_config.json) through @huggingface/tokenizers, and the chat
 * template through @huggingface/jinja. Nothing here tokenizes by hand.
 */
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { defaultChatTemplate } from '../data/chat-template';
import type { TextEncoder } from '../data/tokenize';
import type { ChatMessage } from '../data/types';
import { FormatError, isObject, parseJsonObject } from '../formats/errors';

export interface LoadedTokenizer extends TextEncoder {
  decode(ids: readonly number[]): string;
  readonly vocabSize: number;
  /** True when tokenizer_config.json has a chat_template. */
  readonly hasChatTemplate: boolean;
}

export function loadTokenizer(tokenizerJson: string, configJson: string | null): LoadedTokenizer {
  const tokenizerData = parseJsonObject(tokenizerJson, 'tokenizer.json', 'tokenizer');
  if (!isObject(tokenizerData.model)) throw new FormatError('tokenizer.json', 'missing "model" (is this a Hugging Face tokenizer.json?)');
  const config = configJson === null ? {} : parseJsonObject(configJson, 'tokenizer_config.json', 'tokenizer config');
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerData, config);
  } catch (e) {
    throw new FormatError('tokenizer.json', `the tokenizer library could not load it (${(e as Error).message})`);
  }
  const eosToken = tokenText(config.eos_token);
  const eosId = eosToken === null ? null : (tokenizer.token_to_id(eosToken) ?? null);
  const template = typeof config.chat_template === 'string' ? new Template(config.chat_template) : null;
  const bosToken = tokenText(config.bos_token) ?? '';

  const renderChat = (messages: readonly ChatMessage[], addGenerationPrompt: boolean): string =>
    template
      ? template.render({ messages: messages.map((m) => ({ ...m })), add_generation_prompt: addGenerationPrompt, eos_token: eosToken ?? '', bos_token: bosToken })
      : defaultChatTemplate(messages, addGenerationPrompt, eosToken ?? '');

  return {
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    // The library refuses an empty list; a generation that stops at once decodes to nothing.
    decode: (ids) => (ids.length === 0 ? '' : tokenizer.decode([...ids], { skip_special_tokens: true })),
    eosId,
    renderChat,
    vocabSize: tokenizer.get_vocab(true).size,
    hasChatTemplate: template !== null,
  };
}

/** Special tokens in tokenizer_config.json are a string or an AddedToken object {content}. */
function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return null;
}
