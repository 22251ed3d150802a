/**
 * Records → fixed-length token sequences with labels. Prompt tokens get IGNORE_INDEX (-100) so
 * only completions are learned. Text records are packed: concatenated (EOS between them) and
 * cut into sequences of `seqLen`. Pair and chat records become one sequence each, truncated to
 * seqLen and padded with IGNORE_INDEX labels. A row that does not fit is a length choice, not bad
 * data: it is reported in `tooLong` (apart from the malformed `badRows`), and with `truncation:
 * 'prompt-left'` the start of its prompt is dropped so the answer stays.
 */
import { IGNORE_INDEX } from '../formats/batch';
import { ChatTemplateError } from './chat-template';
import { type BadRow, type ChatMessage, clipMessage, type DatasetRecord, MAX_REASON_CHARS } from './types';

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
  /** Rows that cannot be used at any length (a chat template refused them). */
  readonly badRows: BadRow[];
  /** Rows left out because their prompt leaves no room for the answer at this sequence length. */
  readonly tooLong: BadRow[];
  /** Examples cut at seqLen (the end of the answer, or with 'prompt-left' the start of the prompt). */
  readonly truncated: number;
  readonly totalTokens: number;
  /** Prompt + answer tokens of every tokenized pair and chat row (text rows are packed, so any length fits). */
  readonly lengths: number[];
}

/**
 * How a pair or chat row longer than seqLen is cut: 'right' keeps the start (the end of the answer
 * is lost, and a prompt that fills the sequence leaves the row out); 'prompt-left' keeps the
 * answer and drops the start of the prompt.
 */
export type Truncation = 'right' | 'prompt-left';

export interface TokenizeOptions {
  readonly truncation?: Truncation;
  /** The 1-based file row of each record (for messages); record index + 1 without it. */
  readonly rows?: readonly number[];
}

/** What becomes of one tokenized pair or chat row at a sequence length. */
export type RowFit =
  | { readonly kind: 'fits' | 'truncated'; readonly sequence: TokenSequence; readonly promptKept: number }
  | { readonly kind: 'too-long'; readonly reason: string };

export interface TokenizedExample {
  readonly promptIds: number[];
  readonly completionIds: number[];
}

/** One record → prompt and completion ids (text records are all completion), or why not. */
export function tokenizeRecord(record: DatasetRecord, enc: TextEncoder): TokenizedExample | string {
  const eos = enc.eosId === null ? [] : [enc.eosId];
  switch (record.kind) {
    case 'text':
      return { promptIds: [], completionIds: enc.encode(record.text).concat(eos) };
    case 'pair':
      return {
        promptIds: record.prompt === '' ? [] : enc.encode(record.prompt),
        completionIds: enc.encode(record.completion).concat(eos),
      };
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

/**
 * A record as the model gets it, for the preview: the prompt it reads (the rendered chat prompt
 * for a chat) and the answer it learns (with the template's end-of-turn marker), both whole.
 */
export function exampleParts(record: DatasetRecord, enc: TextEncoder): { prompt: string; answer: string } {
  switch (record.kind) {
    case 'text':
      return { prompt: '', answer: record.text };
    case 'pair':
      return { prompt: record.prompt, answer: record.completion };
    case 'chat': {
      const rendered = renderPromptAndFull(record.messages, enc);
      if (typeof rendered === 'string' || !rendered.full.startsWith(rendered.prompt)) {
        const turns = record.messages.map((m) => `${m.role}: ${m.content}`);
        return { prompt: turns.slice(0, -1).join('\n'), answer: turns[turns.length - 1] ?? '' };
      }
      return { prompt: rendered.prompt, answer: answerText(rendered.full.slice(rendered.prompt.length), enc.endOfTurn) };
    }
  }
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

export function tokenizeDataset(
  records: readonly DatasetRecord[],
  enc: TextEncoder,
  seqLen: number,
  options: TokenizeOptions = {},
): TokenizedDataset {
  const sequences: TokenSequence[] = [];
  const badRows: BadRow[] = [];
  const tooLong: BadRow[] = [];
  const lengths: number[] = [];
  const packed: number[] = [];
  let truncated = 0;
  let totalTokens = 0;
  for (const [i, record] of records.entries()) {
    const row = options.rows?.[i] ?? i + 1;
    const ex = tokenizeRecord(record, enc);
    if (typeof ex === 'string') {
      badRows.push({ row, reason: clipMessage(ex, MAX_REASON_CHARS) });
      continue;
    }
    totalTokens += ex.promptIds.length + ex.completionIds.length;
    if (record.kind === 'text') {
      // A loop, not push(...ids): one long paragraph is more arguments than a call can take.
      for (const id of ex.completionIds) packed.push(id);
      continue;
    }
    lengths.push(ex.promptIds.length + ex.completionIds.length);
    const fit = fitExample(ex, seqLen, options.truncation ?? 'right');
    if (fit.kind === 'too-long') {
      tooLong.push({ row, reason: fit.reason });
      continue;
    }
    if (fit.kind === 'truncated') truncated++;
    sequences.push(fit.sequence);
  }
  for (const s of packSequences(packed, seqLen)) sequences.push(s);
  return { sequences, badRows, tooLong, truncated, totalTokens, lengths };
}

/**
 * One pair or chat example at seqLen. 'right': cut at seqLen, unless the prompt leaves fewer than
 * two answer tokens (then the row is too long). 'prompt-left': the prompt loses its first tokens so
 * that the whole answer fits; an answer longer than the sequence keeps one prompt token and is cut.
 */
export function fitExample(ex: TokenizedExample, seqLen: number, truncation: Truncation): RowFit {
  const total = ex.promptIds.length + ex.completionIds.length;
  if (total <= seqLen) return { kind: 'fits', sequence: maskedSequence(ex, seqLen), promptKept: ex.promptIds.length };
  if (truncation === 'prompt-left') {
    const keep = Math.min(ex.promptIds.length, Math.max(ex.promptIds.length > 0 ? 1 : 0, seqLen - ex.completionIds.length));
    const cut = { promptIds: ex.promptIds.slice(ex.promptIds.length - keep), completionIds: ex.completionIds };
    return { kind: 'truncated', sequence: maskedSequence(cut, seqLen), promptKept: keep };
  }
  if (ex.promptIds.length >= seqLen - 1) {
    return { kind: 'too-long', reason: `${total} tokens: the prompt's ${ex.promptIds.length} leave no room for the answer in ${seqLen}` };
  }
  return { kind: 'truncated', sequence: maskedSequence(ex, seqLen), promptKept: ex.promptIds.length };
}

/** Prompt labels masked, cut at seqLen. */
export function maskedSequence(ex: TokenizedExample, seqLen: number): TokenSequence {
  const ids = ex.promptIds.slice(0, seqLen);
  for (let t = 0; ids.length < seqLen && t < ex.completionIds.length; t++) ids.push(ex.completionIds[t]!);
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
