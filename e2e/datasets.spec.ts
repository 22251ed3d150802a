import { expect, test } from '@playwright/test';
import { openStudio, screenshot, uploadDataset, watchPage } from './helpers';

test.describe('dataset formats', () => {
  test.beforeEach(async ({ page }) => {
    await openStudio(page);
  });

  test('.txt is packed into sequences', async ({ page }) => {
    const text = Array.from({ length: 12 }, (_, i) => `Paragraph ${i}: the sky is blue and the grass is green.`).join('\n\n');
    await uploadDataset(page, 'notes.txt', text);
    await expect(page.getByTestId('dataset-examples')).toHaveText('12');
    await expect(page.getByTestId('dataset-preview').locator('tbody tr')).toHaveCount(5);
    await expect(page.getByTestId('dataset-preview').locator('tbody tr').first().locator('td').nth(1)).toHaveText('0');
    expect(Number(await page.getByTestId('train-sequences').textContent())).toBeGreaterThan(10);
  });

  test('a sample dataset loads from the same origin and shows its preview (on the default kjv-tiny)', async ({ page }) => {
    const watch = watchPage(page);
    await page.goto('/');
    await expect(page.getByTestId('model-name')).toHaveText('kjv-tiny');
    await page.getByTestId('sample-dataset').selectOption('pirate-instructions.jsonl');
    await expect(page.getByTestId('dataset-examples')).toHaveText('120');
    await expect(page.getByTestId('bad-rows')).toHaveText('0 bad rows');
    // The sequence length was raised so that every instruction and its answer fit in kjv-tiny's 128 positions.
    await expect(page.getByTestId('seq-len')).toHaveValue('128');
    expect(Number(await page.getByTestId('train-sequences').textContent())).toBeGreaterThan(100);
    const first = page.getByTestId('dataset-preview').locator('tbody tr').first();
    await expect(first).toContainText('Say hello to a new friend.');
    await expect(first).toContainText('Ahoy there, matey!');
    await screenshot(page, '12-sample-dataset', 'dataset-panel');
    await page.getByTestId('sample-dataset').selectOption('ships-log.txt');
    await expect(page.getByTestId('dataset-examples')).toHaveText('240');
    await expect(page.getByTestId('dataset-preview')).toContainText('Day 1. Wind south-east, a gentle breeze');
    expect(watch.foreignRequests).toEqual([]);
    expect(watch.consoleErrors).toEqual([]);
  });

  test('.json with Alpaca rows masks the prompt', async ({ page }) => {
    const rows = Array.from({ length: 6 }, (_, i) => ({ instruction: `Add ${i} and 1`, input: '', output: String(i + 1) }));
    await uploadDataset(page, 'alpaca.json', JSON.stringify(rows));
    await expect(page.getByTestId('dataset-examples')).toHaveText('6');
    const first = page.getByTestId('dataset-preview').locator('tbody tr').first();
    await expect(first).toContainText('### Instruction');
    expect(Number(await first.locator('td').nth(1).textContent())).toBeGreaterThan(20);
  });

  test('.jsonl with {"text"} rows learns every token', async ({ page }) => {
    const lines = Array.from({ length: 4 }, (_, i) => JSON.stringify({ text: `Line ${i} of plain text.` })).join('\n');
    await uploadDataset(page, 'texts.jsonl', lines);
    await expect(page.getByTestId('dataset-examples')).toHaveText('4');
    const first = page.getByTestId('dataset-preview').locator('tbody tr').first();
    await expect(first.locator('td').nth(1)).toHaveText('0');
    expect(Number(await first.locator('td').nth(2).textContent())).toBeGreaterThan(10);
  });

  test('.jsonl with {"prompt","completion"} masks the prompt', async ({ page }) => {
    const lines = Array.from({ length: 5 }, (_, i) => JSON.stringify({ prompt: `Q${i}: `, completion: `answer ${i}` })).join('\n');
    await uploadDataset(page, 'pairs.jsonl', lines);
    await expect(page.getByTestId('dataset-examples')).toHaveText('5');
    const first = page.getByTestId('dataset-preview').locator('tbody tr').first();
    await expect(first.locator('td').nth(1)).toHaveText('4'); // "Q0: " is four byte tokens, masked
    expect(Number(await first.locator('td').nth(2).textContent())).toBeGreaterThan(7);
  });

  test('.jsonl chat messages use the chat template', async ({ page }) => {
    const line = JSON.stringify({
      messages: [
        { role: 'user', content: 'Hi?' },
        { role: 'assistant', content: 'Hello!' },
      ],
    });
    await uploadDataset(page, 'chat.jsonl', `${line}\n${line}\n${line}\n`);
    await expect(page.getByTestId('dataset-examples')).toHaveText('3');
    const first = page.getByTestId('dataset-preview').locator('tbody tr').first();
    // "<|user|>\nHi?\n<|assistant|>\n" is 27 bytes; the answer "Hello!<|endoftext|>" is 7 tokens (the
    // newline the template writes after the end-of-turn token is not a target: generation stops before it).
    await expect(first.locator('td').nth(1)).toHaveText('27');
    await expect(first.locator('td').nth(2)).toHaveText('7');
  });

  test('.csv with a chosen column', async ({ page }) => {
    const csv = 'id,body,label\n1,"first, with comma",a\n2,second,b\n3,third,c\n4,fourth,d\n';
    await uploadDataset(page, 'table.csv', csv);
    await expect(page.getByTestId('csv-column')).toHaveValue('id');
    await page.getByTestId('csv-column').selectOption('body');
    await expect(page.getByTestId('dataset-preview')).toContainText('first, with comma');
    await expect(page.getByTestId('dataset-examples')).toHaveText('4');
  });

  test('malformed rows are counted and shown; an unusable file is refused', async ({ page }) => {
    const watch = watchPage(page);
    const lines = ['{"prompt": "a", "completion": "b"}', '{broken', '{"prompt": "a"}', '{"text": "ok"}', '42'];
    await uploadDataset(page, 'mixed.jsonl', lines.join('\n'));
    await expect(page.getByTestId('bad-rows')).toContainText('3 bad rows');
    await expect(page.getByTestId('dataset-panel')).toContainText('row 2: not valid JSON');
    await expect(page.getByTestId('dataset-panel')).toContainText('row 5: not a JSON object');
    await screenshot(page, '07-bad-rows', 'dataset-panel');
    await uploadDataset(page, 'nothing.jsonl', '{oops\n');
    await expect(page.getByTestId('dataset-panel').getByRole('alert')).toContainText('nothing.jsonl: all 1 rows are unusable');
    await uploadDataset(page, 'data.parquet', 'PAR1');
    await expect(page.getByTestId('dataset-panel').getByRole('alert')).toContainText('unsupported file type ".parquet"');
    expect(watch.consoleErrors).toEqual([]);
  });
});
