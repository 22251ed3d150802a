/**
 * Records → fixed-length token sequences with labels. Prompt tokens get IGNORE_INDEX (-100) so
 * only completions are learned. Text records are packed: concatenated (EOS between them) and
 * cut into sequences of `seqLen`. Pair and chat records become one sequence each, truncated to
 * seqLen and padded with IGNORE_INDEX labels.
 */
import { IGNORE_INDEX } from '../formats/batch';
import { ChatTemplateError } from './chat-template';
import type { BadRow, ChatMessage, DatasetRecord } from './types';

export interface TextEncoder {
  encode(text: string): number[];
  /** Appended after every example; null when the tokenizer has none. */
  readonly eosId: number | null;
  /**
   * Renders chat messages to text (the tokenizer's chat template or the default one); a
   * template that refuses the conversation throws a ChatTemplateError.
   */
  renderChat(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string;
  /** The token text renderChat writes after an assistant's content (<|im_end|>), or null. */
  readonly endOfTurn: string | null;
}

export interface TokenSequence {
  readonly ids: number[];
  readonly labels: number[];
}

export interface TokenizedDataset {
  readonly sequences: TokenSequence[];
  readonly badRows: BadRow[];
  /** Examples cut at seqLen. */
  readonly truncated: number;
  readonly totalTokens: number;
}

export interface TokenizedExample {
  readonly promptIds: number[];
  readonly completionIds: number[];
}

/** One record → prompt and completion ids (text records are all completion), or why not. */
export function tokenizeRecord(record: DatasetRecord, enc: TextEncoder): TokenizedExample | string {
  const eos = enc.eosId === null ? [] : [enc.eosId];
  switch (record.kind) {
    case 'text':
      return { promptIds: [], completionIds: [...enc.encode(record.text), ...eos] };
    case 'pair':
      return { promptIds: record.prompt === '' ? [] : enc.encode(record.prompt), completionIds: [...enc.encode(record.completion), ...eos] };
    case 'chat':
      return tokenizeChat(record.messages, enc);
  }
}

/** The last message is the answer: everything the template renders after the generation prompt. */
function tokenizeChat(messages: readonly ChatMessage[], enc: TextEncoder): TokenizedExample | string {
  const rendered = renderPromptAndFull(messages, enc);
  if (typeof rendered === 'string') return rendered;
  const { prompt, full } = rendered;
  if (!full.startsWith(prompt)) return 'the chat template does not render the conversation as prompt + answer';
  return { promptIds: enc.encode(prompt), completionIds: enc.encode(answerText(full.slice(prompt.length), enc.endOfTurn)) };
}

/** A template's raise_exception(...) makes this conversation a bad row with the template's message. */
function renderPromptAndFull(messages: readonly ChatMessage[], enc: TextEncoder): { prompt: string; full: string } | string {
  try {
    return { prompt: enc.renderChat(messages.slice(0, -1), true), full: enc.renderChat(messages, false) };
  } catch (e) {
    if (e instanceof ChatTemplateError) return `the chat template refused this conversation: ${e.message}`;
    throw e;
  }
}

/**
 * The answer up to and including its end-of-turn token. ChatML renders "...<|im_end|>\n" and
 * Gemma "...<end_of_turn>\n": the model must learn to emit the end-of-turn token (generation
 * stops there), but the whitespace after it only separates this turn from a next one that a
 * generation never reaches, so it is left out of the targets. Anything else after the token is kept.
 */
function answerText(answer: string, endOfTurn: string | null): string {
  const trimmed = answer.trimEnd();
  return endOfTurn !== null && trimmed.endsWith(endOfTurn) ? trimmed : answer;
}

export function tokenizeDataset(records: readonly DatasetRecord[], enc: TextEncoder, seqLen: number): TokenizedDataset {
  const sequences: TokenSequence[] = [];
  const badRows: BadRow[] = [];
  const packed: number[] = [];
  let truncated = 0;
  let totalTokens = 0;
  records.forEach((record, i) => {
    const ex = tokenizeRecord(record, enc);
    if (typeof ex === 'string') return badRows.push({ row: i + 1, reason: ex });
    totalTokens += ex.promptIds.length + ex.completionIds.length;
    if (record.kind === 'text') return packed.push(...ex.completionIds);
    if (ex.promptIds.length >= seqLen - 1) return badRows.push({ row: i + 1, reason: `prompt has ${ex.promptIds.length} tokens, no room for the answer in ${seqLen}` });
    if (ex.promptIds.length + ex.completionIds.length > seqLen) truncated++;
    sequences.push(maskedSequence(ex, seqLen));
  });
  sequences.push(...packSequences(packed, seqLen));
  return { sequences, badRows, truncated, totalTokens };
}

/** Prompt labels masked, cut at seqLen. */
export function maskedSequence(ex: TokenizedExample, seqLen: number): TokenSequence {
  const ids = [...ex.promptIds, ...ex.completionIds].slice(0, seqLen);
  const labels = ids.map((id, t) => (t < ex.promptIds.length ? IGNORE_INDEX : id));
  return { ids, labels };
}

/** A token stream cut into seqLen pieces; a last piece shorter than 2 tokens has nothing to learn. */
export function packSequences(stream: readonly number[], seqLen: number): TokenSequence[] {
  const out: TokenSequence[] = [];
  for (let start = 0; start < stream.length; start += seqLen) {
    const ids = stream.slice(start, start + seqLen);
    if (ids.length >= 2) out.push({ ids, labels: ids.slice() });
  }
  return out;
}
