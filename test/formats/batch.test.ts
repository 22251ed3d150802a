import { describe, it, expect } from 'vitest';
import { IGNORE_INDEX, parseBatch } from '../../src/formats/batch';
import { CASES, HAVE_FIXTURES, expectFormatError, fixtureText } from './fixtures';

const F = 'batch.json';

describe('parseBatch', () => {
  it('flattens rows and keeps -100 labels', () => {
    const b = parseBatch(
      JSON.stringify({
        input_ids: [
          [1, 2, 3],
          [4, 5, 6],
        ],
        labels: [
          [-100, 2, 3],
          [-100, -100, 6],
        ],
      }),
      F,
      10,
    );
    expect([b.batch, b.seq]).toEqual([2, 3]);
    expect(Array.from(b.inputIds)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(b.labels)).toEqual([IGNORE_INDEX, 2, 3, IGNORE_INDEX, IGNORE_INDEX, 6]);
  });

  it('defaults labels to input_ids (as a separate array)', () => {
    const b = parseBatch(JSON.stringify({ input_ids: [[7, 8]] }), F, 10);
    expect(Array.from(b.labels)).toEqual([7, 8]);
    expect(b.labels).not.toBe(b.inputIds);
    expect(Array.from(parseBatch(JSON.stringify({ input_ids: [[7, 8]], labels: null }), F, 10).labels)).toEqual([7, 8]);
  });

  it('accepts an all-ones attention mask', () => {
    expect(parseBatch(JSON.stringify({ input_ids: [[1, 2]], attention_mask: [[1, 1]] }), F, 10).seq).toBe(2);
  });

  const bad: Array<[string, unknown, string]> = [
    ['not an object', [[1, 2]], 'batch must be a JSON object'],
    ['missing input_ids', { labels: [[1]] }, 'missing "input_ids"'],
    ['empty batch', { input_ids: [] }, '"input_ids" must be a non-empty list of rows'],
    ['empty row', { input_ids: [[]] }, 'input_ids[0] must be a non-empty list'],
    ['row not a list', { input_ids: [[1, 2], 3] }, 'input_ids[1] must be a list of token ids'],
    ['ragged rows', { input_ids: [[1, 2], [3]] }, 'input_ids[1] has 1 tokens but input_ids[0] has 2'],
    ['id out of vocab', { input_ids: [[1, 10]] }, 'input_ids[0][1] = 10 is not an integer in [0, 10)'],
    ['negative id', { input_ids: [[-1, 2]] }, 'input_ids[0][0] = -1'],
    ['-100 as an input id', { input_ids: [[-100, 2]] }, 'input_ids[0][0] = -100'],
    ['fractional id', { input_ids: [[1.5]] }, 'input_ids[0][0] = 1.5'],
    ['string id', { input_ids: [['3']] }, 'input_ids[0][0] = the string "3"'],
    ['label shape', { input_ids: [[1, 2]], labels: [[1, 2, 3]] }, 'labels are [1][3] but input_ids are [1][2]'],
    ['label out of vocab', { input_ids: [[1, 2]], labels: [[1, 99]] }, 'labels[0][1] = 99 is not an integer in [0, 10) or -100'],
    ['label -1', { input_ids: [[1, 2]], labels: [[-1, 2]] }, 'labels[0][0] = -1'],
    ['padding mask', { input_ids: [[1, 2]], attention_mask: [[1, 0]] }, 'attention_mask with zeros'],
  ];
  for (const [name, value, fragment] of bad) {
    it(`rejects: ${name}`, () => void expectFormatError(() => parseBatch(JSON.stringify(value), F, 10), F, fragment));
  }
  it('rejects bad JSON', () => void expectFormatError(() => parseBatch('{"input_ids": [[1,', F, 10), F, 'not valid JSON'));
});

describe.skipIf(!HAVE_FIXTURES)('fixture batches', () => {
  for (const c of CASES) {
    it(`${c}/batch.json`, () => {
      const raw = JSON.parse(fixtureText(c, 'batch.json')) as { input_ids: number[][]; labels: number[][] };
      const b = parseBatch(fixtureText(c, 'batch.json'), `${c}/batch.json`, 67);
      expect([b.batch, b.seq]).toEqual([raw.input_ids.length, raw.input_ids[0]!.length]);
      expect(Array.from(b.inputIds)).toEqual(raw.input_ids.flat());
      expect(Array.from(b.labels)).toEqual(raw.labels.flat());
      // The fixtures use vocab 67: the same batch is out of range for a smaller vocabulary.
      expectFormatError(() => parseBatch(fixtureText(c, 'batch.json'), 'small', 3), 'small', 'is not an integer in [0, 3)');
    });
  }
});
