import { describe, expect, it } from 'vitest';
import { BatchSampler, splitTrainVal, toTokenBatch } from '../../src/data/batches';
import { defaultChatTemplate } from '../../src/data/chat-template';
import { packSequences, tokenizeDataset, type TextEncoder } from '../../src/data/tokenize';
import type { DatasetRecord } from '../../src/data/types';

/** A character-code "tokenizer" for testing the masking logic without a tokenizer file. */
const chars: TextEncoder = {
  encode: (t) => [...t].map((c) => c.charCodeAt(0)),
  eosId: 0,
  renderChat: (m, g) => defaultChatTemplate(m, g, '<e>'),
  endOfTurn: '<e>',
};

describe('tokenizeDataset', () => {
  it('masks prompt tokens with -100 and appends EOS to completions', () => {
    const { sequences } = tokenizeDataset([{ kind: 'pair', prompt: 'ab', completion: 'c' }], chars, 16);
    expect(sequences).toEqual([{ ids: [97, 98, 99, 0], labels: [-100, -100, 99, 0] }]);
  });
  it('learns only the last assistant turn of a chat', () => {
    const record: DatasetRecord = {
      kind: 'chat',
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a' },
      ],
    };
    const { sequences } = tokenizeDataset([record], chars, 64);
    const prompt = '<|user|>\nq\n<|assistant|>\n';
    const s = sequences[0]!;
    expect(s.labels.slice(0, prompt.length).every((l) => l === -100)).toBe(true);
    // The newline after the end-of-turn token is not learned (nor kept: nothing follows it).
    expect(String.fromCharCode(...s.labels.slice(prompt.length))).toBe('a<e>');
    expect(s.ids).toHaveLength(prompt.length + 'a<e>'.length);
  });
  it('packs text records into seqLen pieces and truncates long pairs', () => {
    const records: DatasetRecord[] = [
      { kind: 'text', text: 'abcde' },
      { kind: 'text', text: 'fg' },
      { kind: 'pair', prompt: 'p', completion: 'xxxxxxxx' },
    ];
    const d = tokenizeDataset(records, chars, 4);
    // pair first (truncated to 4), then the packed stream a b c d e 0 f g 0 → [abcd] [e0fg] (tail "0" alone dropped)
    expect(d.sequences.map((s) => s.ids.length)).toEqual([4, 4, 4]);
    expect(d.truncated).toBe(1);
    expect(d.totalTokens).toBe(6 + 3 + 10);
  });
  it('reports prompts that leave no room for an answer as too long, not as bad rows', () => {
    const d = tokenizeDataset([{ kind: 'pair', prompt: 'abcdef', completion: 'x' }], chars, 4);
    expect(d.sequences).toEqual([]);
    expect(d.badRows).toEqual([]);
    expect(d.tooLong[0]!.reason).toMatch(/no room/);
  });
  it('packSequences drops a one-token tail', () => {
    expect(packSequences([1, 2, 3], 2)).toEqual([{ ids: [1, 2], labels: [1, 2] }]);
  });
});

describe('batches', () => {
  it('holds out at least one sequence and never all', () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    expect(splitTrainVal(items, 0.1, 1).val).toHaveLength(1);
    expect(splitTrainVal(items, 0.5, 1).val).toHaveLength(5);
    expect(splitTrainVal([1], 0.5, 1)).toEqual({ train: [1], val: [] });
    const { train, val } = splitTrainVal(items, 0.3, 2);
    expect([...train, ...val].sort((a, b) => a - b)).toEqual(items);
  });
  it('pads batches with ignored labels', () => {
    const b = toTokenBatch([{ ids: [5, 6], labels: [-100, 6] }], 4, 0);
    expect([...b.inputIds]).toEqual([5, 6, 0, 0]);
    expect([...b.labels]).toEqual([-100, 6, -100, -100]);
  });
  it('the sampler visits every sequence once per epoch', () => {
    const seqs = Array.from({ length: 5 }, (_, i) => ({ ids: [i, i], labels: [i, i] }));
    const sampler = new BatchSampler(seqs, 2, 3);
    const seen = [...sampler.next(), ...sampler.next(), ...sampler.next()].map((s) => s.ids[0]);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4]);
    sampler.next();
    expect(sampler.epoch).toBe(1);
  });
});
