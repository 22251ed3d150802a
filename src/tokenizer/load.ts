/**
 * tokenizer.json (+ optional tokenizer_config.json) through @huggingface/tokenizers, and the chat
 * template through @huggingface/jinja. Nothing here tokenizes by hand.
 */
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { ChatTemplateError, defaultChatTemplate, NAMED_CHAT_TEMPLATES, type ChatTemplateChoice } from '../data/chat-template';
import type { TextEncoder } from '../data/tokenize';
import { FormatError, describeValue, isObject, parseJsonObject } from '../formats/errors';

export interface LoadedTokenizer extends TextEncoder {
  decode(ids: readonly number[]): string;
  /** The vocabulary entry of an id (special tokens as written, e.g. <|im_end|>), or null. */
  tokenText(id: number): string | null;
  readonly vocabSize: number;
  /** True when tokenizer_config.json has a chat_template. */
  readonly hasChatTemplate: boolean;
  /** The id of `endOfTurn`, a stop token for chat generation. */
  readonly endOfTurnId: number | null;
  /**
   * This tokenizer with another chat template: 'model' is itself; a named one (ChatML, Llama 2,
   * Alpaca) renders chats its way and ends the assistant's turn with its own marker.
   */
  withChatTemplate(choice: ChatTemplateChoice): LoadedTokenizer;
}

type RenderChat = TextEncoder['renderChat'];

const CONFIG = 'tokenizer_config.json';

export function loadTokenizer(tokenizerJson: string, configJson: string | null): LoadedTokenizer {
  const tokenizerData = parseJsonObject(tokenizerJson, 'tokenizer.json', 'tokenizer');
  if (!isObject(tokenizerData.model)) throw new FormatError('tokenizer.json', 'missing "model" (is this a Hugging Face tokenizer.json?)');
  const config = configJson === null ? {} : parseJsonObject(configJson, CONFIG, 'tokenizer config');
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerData, config);
  } catch (e) {
    throw new FormatError('tokenizer.json', `the tokenizer library could not load it (${(e as Error).message})`);
  }
  const eosToken = tokenText(config.eos_token);
  const eosId = eosToken === null ? null : (tokenizer.token_to_id(eosToken) ?? null);
  const template = parseChatTemplate(config.chat_template);
  const bosToken = tokenText(config.bos_token) ?? '';

  const render =
    (t: Template | null): RenderChat =>
    (messages, addGenerationPrompt) =>
      t
        ? renderTemplate(t, {
            messages: messages.map((m) => ({ ...m })),
            add_generation_prompt: addGenerationPrompt,
            eos_token: eosToken ?? '',
            bos_token: bosToken,
          })
        : defaultChatTemplate(messages, addGenerationPrompt, eosToken ?? '');
  const addedTokens = [...tokenizer.get_added_tokens_decoder().values()].map((t) => t.content);
  const idOf = (token: string | null) => (token === null ? null : (tokenizer.token_to_id(token) ?? null));

  const withTemplate = (renderChat: RenderChat, endOfTurn: string | null, hasChatTemplate: boolean): LoadedTokenizer => ({
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    // The library refuses an empty list; a generation that stops at once decodes to nothing.
    decode: (ids) => (ids.length === 0 ? '' : tokenizer.decode([...ids], { skip_special_tokens: true })),
    tokenText: (id) => tokenizer.id_to_token(id) ?? null,
    eosId,
    renderChat,
    endOfTurn,
    endOfTurnId: idOf(endOfTurn),
    vocabSize: tokenizer.get_vocab(true).size,
    hasChatTemplate,
    withChatTemplate: (choice) => {
      if (choice === 'model') return own;
      const spec = NAMED_CHAT_TEMPLATES[choice];
      const marker = spec.endOfTurn === 'eos' ? eosToken : spec.endOfTurn.literal;
      return withTemplate(render(new Template(spec.source)), marker === '' ? null : marker, true);
    },
  });
  const ownRender = render(template);
  const own: LoadedTokenizer = withTemplate(ownRender, endOfTurnToken(ownRender, addedTokens), template !== null);
  return own;
}

/**
 * A string, or transformers' list of named templates ([{name, template}]) of which it uses
 * "default". A template that does not parse fails the load: every chat row would fail later.
 */
function parseChatTemplate(v: unknown): Template | null {
  if (v === undefined || v === null) return null;
  const source = Array.isArray(v) ? v.find((t) => isObject(t) && t.name === 'default')?.template : v;
  if (typeof source !== 'string') {
    throw new FormatError(CONFIG, `chat_template must be a string or a list of {name, template} with a "default", got ${describeValue(v)}`);
  }
  try {
    return new Template(source);
  } catch (e) {
    throw new FormatError(CONFIG, `chat_template is not a valid Jinja template (${(e as Error).message})`);
  }
}

/** Jinja's raise_exception and runtime errors throw plain Errors; they become one bad conversation. */
function renderTemplate(template: Template, context: Record<string, unknown>): string {
  try {
    return template.render(context);
  } catch (e) {
    throw new ChatTemplateError((e as Error).message);
  }
}

const PROBE_ANSWER = 'probe answer 7f3a';

/**
 * The added token the template writes right after an assistant message's content (<|im_end|>
 * for ChatML, <end_of_turn> for Gemma, <|eot_id|> for Llama 3, EOS for the default template),
 * found by rendering a probe conversation; null when the template writes none or refuses it.
 */
function endOfTurnToken(renderChat: RenderChat, addedTokens: readonly string[]): string | null {
  let text: string;
  try {
    text = renderChat(
      [
        { role: 'user', content: 'probe question' },
        { role: 'assistant', content: PROBE_ANSWER },
      ],
      false,
    );
  } catch (e) {
    if (e instanceof ChatTemplateError) return null;
    throw e;
  }
  const at = text.lastIndexOf(PROBE_ANSWER);
  if (at < 0) return null;
  // Llama 2 style templates put a space between the content and the token.
  const rest = text.slice(at + PROBE_ANSWER.length).trimStart();
  const matches = addedTokens.filter((t) => t !== '' && rest.startsWith(t));
  return matches.sort((a, b) => b.length - a.length)[0] ?? null;
}

/** Special tokens in tokenizer_config.json are a string or an AddedToken object {content}. */
function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return null;
}
