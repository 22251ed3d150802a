/**
 * tokenizer.json (+ optional tokenizer_config.json) through @huggingface/tokenizers, and the chat
 * template through @huggingface/jinja. Nothing here tokenizes by hand.
 */
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { ChatTemplateError, defaultChatTemplate, NAMED_CHAT_TEMPLATES, type ChatTemplateChoice } from '../data/chat-template';
import type { TextEncoder } from '../data/tokenize';
import { FormatError, describeValue, isObject, parseJsonObject, quote } from '../formats/errors';
import { CONFIG_LIMITS } from '../formats/hf-config';

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
const TOKENIZER = 'tokenizer.json';

/**
 * `vocabSize` is the model's (config.json's vocab_size): every id the tokenizer can produce must
 * be below it, since ids index the embedding on the GPU. Without it the bound is
 * CONFIG_LIMITS.vocab. Ids are checked before the tokenizer library sees the file: it sizes an
 * array by the largest id, so one id of 1e9 would take half a minute and gigabytes.
 */
export function loadTokenizer(tokenizerJson: string, configJson: string | null, vocabSize?: number): LoadedTokenizer {
  const tokenizerData = parseTokenizerJson(tokenizerJson);
  if (!isObject(tokenizerData.model)) throw new FormatError(TOKENIZER, 'missing "model" (is this a Hugging Face tokenizer.json?)');
  const limit: IdLimit =
    vocabSize === undefined
      ? { max: CONFIG_LIMITS.vocab, what: `the supported maximum vocabulary of ${CONFIG_LIMITS.vocab}` }
      : { max: vocabSize, what: `the model's vocab_size ${vocabSize} (config.json)` };
  const checked = checkTokenIds(tokenizerData, tokenizerData.model, limit);
  const config = configJson === null ? {} : parseJsonObject(configJson, CONFIG, 'tokenizer config');
  const tokenizer = viaLibrary('load it', () => new Tokenizer(checked, config));
  probe(tokenizer, limit);
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
  const addedTokens = viaLibrary('list its added tokens', () => [...tokenizer.get_added_tokens_decoder().values()].map((t) => t.content));
  const tokenCount = viaLibrary('count its vocabulary', () => tokenizer.get_vocab(true).size);
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
    vocabSize: tokenCount,
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
 * tokenizer.json through the native JSON.parse: the file is megabytes (33 MB for Gemma 3), where
 * the strict reader of the small files would cost seconds. It is read once, by this loader.
 */
function parseTokenizerJson(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new FormatError(TOKENIZER, `tokenizer is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(v)) throw new FormatError(TOKENIZER, `tokenizer must be a JSON object, got ${describeValue(v)}`);
  return v;
}

interface IdLimit {
  /** Ids must be below this. */
  readonly max: number;
  /** How a message names the bound. */
  readonly what: string;
}

const isId = (v: unknown, limit: IdLimit): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < limit.max;

/**
 * Every id in model.vocab (a token → id map, or Unigram's list) and added_tokens must be an
 * integer below the limit. One exception, for real checkpoints: a *special* added token past
 * the model's vocab_size but within CONFIG_LIMITS.vocab is left out of the tokenizer (never
 * matched in text, never produced) instead of failing the load. Gemma 3's text models are the
 * case: vocab_size 262,144, and the shared tokenizer.json lists the vision placeholder
 * <image_soft_token> as id 262,144, which a text model has no embedding row for.
 * Returns the tokenizer data to load (a copy when tokens were left out).
 */
function checkTokenIds(data: Record<string, unknown>, model: Record<string, unknown>, limit: IdLimit): Record<string, unknown> {
  const bad = (where: string, id: unknown): never => {
    throw new FormatError(TOKENIZER, `${where} has id ${describeValue(id)}; ids must be integers from 0 to below ${limit.what}`);
  };
  const vocab = model.vocab;
  if (Array.isArray(vocab)) {
    // Unigram: the id is the index.
    if (vocab.length > limit.max) throw new FormatError(TOKENIZER, `model.vocab lists ${vocab.length} tokens, more than ${limit.what}`);
    if (model.unk_id != null && !isId(model.unk_id, { max: vocab.length, what: `the ${vocab.length} entries of model.vocab` })) {
      bad('model.unk_id', model.unk_id);
    }
  } else if (isObject(vocab)) {
    for (const token of Object.keys(vocab)) if (!isId(vocab[token], limit)) bad(`model.vocab token ${quote(token, 60)}`, vocab[token]);
  } else if (vocab !== undefined) {
    throw new FormatError(TOKENIZER, `model.vocab must be an object of token → id (or Unigram's list), got ${describeValue(vocab)}`);
  }
  const added = data.added_tokens;
  if (added == null) return data;
  if (!Array.isArray(added)) throw new FormatError(TOKENIZER, `added_tokens must be a list, got ${describeValue(added)}`);
  const hardLimit: IdLimit = { max: CONFIG_LIMITS.vocab, what: limit.what };
  const kept = added.filter((t, i) => {
    if (!isObject(t) || typeof t.content !== 'string') {
      throw new FormatError(TOKENIZER, `added_tokens[${i}] must be an object with a string "content", got ${describeValue(t)}`);
    }
    if (isId(t.id, limit)) return true;
    if (t.special === true && isId(t.id, hardLimit) && limit.max < hardLimit.max) return false;
    return bad(`added_tokens[${i}] ${quote(t.content, 60)}`, t.id);
  });
  return kept.length === added.length ? data : { ...data, added_tokens: kept };
}

/** Runs a call into the tokenizer library; whatever it throws is a FormatError naming tokenizer.json. */
function viaLibrary<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(TOKENIZER, `the tokenizer library could not ${what} (${e instanceof Error ? e.message : String(e)})`);
  }
}

const PROBE_TEXT = 'Hello, world! 123 \u00e9t\u00e9';

/**
 * Encodes and decodes a line of text once, so that a tokenizer that loads but cannot encode
 * (a broken normalizer or model section the library only touches then) fails here, with the
 * file named, and no id outside the vocabulary (an out-of-range unk id) gets to the GPU.
 */
function probe(tokenizer: Tokenizer, limit: IdLimit): void {
  const ids = viaLibrary('encode a test line', () => tokenizer.encode(PROBE_TEXT, { add_special_tokens: false }).ids);
  const outside = ids.find((id) => typeof id === 'number' && !isId(id, limit));
  if (outside !== undefined) throw new FormatError(TOKENIZER, `encoding a test line gave id ${outside}, outside ${limit.what}`);
  const known = ids.filter((id) => typeof id === 'number');
  if (known.length > 0) viaLibrary('decode a test line', () => tokenizer.decode(known, { skip_special_tokens: true }));
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
