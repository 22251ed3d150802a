import { describe, expect, it } from 'vitest';
import { blobSource, loadModelFolder } from '../../src/formats/model-folder';
import { linearModuleNames } from '../../src/train/adapter-spec';
import { continuationText } from '../../src/generation/generate';
import { stopNote, stopOf } from '../../src/worker/generation-text';
import { tinyGemma3, tinyGpt2, tinyQwen3, type TinyModel } from '../../scripts/make-tiny-family-models';

describe('continuation text', () => {
  // A decoder that drops a leading space of what it decodes, as SentencePiece-style decoders do.
  const words = ['Hello', ' world', ' again'];
  const decode = (ids: readonly number[]) =>
    ids
      .map((i) => words[i])
      .join('')
      .replace(/^ /, '');
  it('keeps the leading space the continuation alone would lose', () => {
    expect(decode([1])).toBe('world');
    expect(continuationText(decode, [0], decode([0]), [1, 2])).toBe(' world again');
    expect(continuationText(decode, [0], decode([0]), [])).toBe('');
  });
  it('falls back to the continuation alone when the whole does not start with the prompt', () => {
    const odd = (ids: readonly number[]) => (ids.length > 1 ? 'merged' : decode(ids));
    expect(continuationText(odd, [0], 'Hello', [1])).toBe('world');
  });
});

describe('stop reason', () => {
  const facts = { endOfTurnId: 5, tokenText: (id: number) => ({ 5: '<|im_end|>', 6: '<eos>' })[id] ?? null, maxNewTokens: 8 };
  it('names the stop token, end of turn first', () => {
    expect(stopOf({ ...facts, stopId: 5, generatedCount: 2 })).toEqual({ reason: 'end-of-turn', token: '<|im_end|>' });
    expect(stopOf({ ...facts, stopId: 6, generatedCount: 2 })).toEqual({ reason: 'eos', token: '<eos>' });
    expect(stopOf({ ...facts, stopId: 9, generatedCount: 2 })).toEqual({ reason: 'eos', token: 'token 9' });
    expect(stopOf({ ...facts, stopId: null, generatedCount: 8 })).toEqual({ reason: 'max-tokens' });
    expect(stopOf({ ...facts, stopId: null, generatedCount: 3 })).toEqual({ reason: 'positions' });
  });
  it('says why a generation is empty', () => {
    expect(stopNote({ reason: 'end-of-turn', token: '<end_of_turn>' }, 3)).toBe('stopped at end of turn (<end_of_turn>)');
    expect(stopNote({ reason: 'end-of-turn', token: '<end_of_turn>' }, 0)).toMatch(/^no tokens: .*<end_of_turn>/);
    expect(stopNote({ reason: 'eos', token: '<eos>' }, 0)).toMatch(/^no tokens: .*<eos>/);
    expect(stopNote({ reason: 'max-tokens' }, 12)).toBe('stopped at the limit of 12 new tokens');
    expect(stopNote(null, 0)).toBeNull();
  });
});

async function load(m: TinyModel) {
  const blobs = new Map(Object.entries(m.files).map(([name, c]) => [name, new Blob([typeof c === 'string' ? c : new Uint8Array(c)])]));
  return loadModelFolder(blobSource(blobs), { tokenizer: true });
}

describe('the tiny family models of the e2e tests', () => {
  it('qwen3: head_dim 16 ≠ 32/4, ChatML, stops at <|im_end|> and <|endoftext|>', async () => {
    const m = tinyQwen3();
    const f = await load(m);
    expect(f.config).toMatchObject({
      family: 'qwen3',
      headDim: 16,
      hiddenSize: 32,
      numHeads: 4,
      numKvHeads: 2,
      qkNorm: true,
      tieWordEmbeddings: true,
    });
    expect(f.config.vocabSize).toBeGreaterThanOrEqual(f.tokenizer.vocabSize);
    expect(linearModuleNames(f.config)).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
    expect(f.tokenizer.endOfTurn).toBe('<|im_end|>');
    expect(new Set(f.stopTokenIds)).toEqual(new Set([m.special['<|im_end|>'], m.special['<|endoftext|>']]));
    expect(f.tokenizer.renderChat([{ role: 'user', content: 'Hi' }], true)).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(f.tokenizer.tokenText(m.special['<|im_end|>']!)).toBe('<|im_end|>');
  });
  it('gemma3: sliding + full layers, sandwich norms, Gemma template ending in <end_of_turn>', async () => {
    const m = tinyGemma3();
    const f = await load(m);
    expect(f.config).toMatchObject({
      family: 'gemma3',
      sandwichNorms: true,
      layerTypes: ['sliding', 'full'],
      slidingWindow: 4,
      activation: 'gelu_tanh',
      normWeightOffset: 1,
    });
    expect(f.config.attentionScale).toBeCloseTo(1 / 4);
    expect(f.tokenizer.endOfTurn).toBe('<end_of_turn>');
    expect(new Set(f.stopTokenIds)).toEqual(new Set([m.special['<eos>'], m.special['<end_of_turn>']]));
    const ids = f.tokenizer.encode(f.tokenizer.renderChat([{ role: 'user', content: 'Hi' }], true));
    expect(ids[0]).toBe(m.special['<bos>']);
  });
  it('gpt2: Conv1D targets, no chat template', async () => {
    const f = await load(tinyGpt2());
    expect(linearModuleNames(f.config)).toEqual(['c_attn', 'c_proj', 'c_fc']);
    expect(f.tokenizer.hasChatTemplate).toBe(false);
  });
});
