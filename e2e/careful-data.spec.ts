import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { openStudio, repetitiveJsonl, safetensorsHeader, screenshot, setNumber, uploadDataset, watchPage } from './helpers';

// Issue 18, "the studio as a careful tool": the dataset's feedback, adapter import, the merged
// export and the chat template. dev-tiny's tokenizer is byte-level without merges: one token a
// byte, and EOS (<|endoftext|>) after every answer.
const DEV_TINY = join(import.meta.dirname, '..', 'public', 'models', 'dev-tiny');
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const alpacaPrompt = (instruction: string) => `### Instruction:\n${instruction}\n\n### Response:\n`;
const LONG_ANSWER = `${'A long answer that goes on and on. '.repeat(17)}END-OF-ANSWER`;

/** 10 Alpaca rows (every prompt ≥ 33 tokens; the first has a 600-character answer), 2 malformed lines, 30 short pairs. */
function mixedDataset(): { text: string; lengths: number[] } {
  const lines: string[] = [];
  const lengths: number[] = [];
  for (let i = 0; i < 10; i++) {
    const instruction = `Tell me fact ${i}${' please'.repeat(i % 4)}`;
    const output = i === 0 ? LONG_ANSWER : `fact ${i}`;
    lines.push(JSON.stringify({ instruction, input: '', output }));
    lengths.push(bytes(alpacaPrompt(instruction)) + bytes(output) + 1);
  }
  lines.push('{broken', '{"prompt": "no answer"}');
  for (let i = 0; i < 30; i++) {
    const prompt = `Q${i % 7}: hi`;
    lines.push(JSON.stringify({ prompt, completion: ' yes' }));
    lengths.push(bytes(prompt) + bytes(' yes') + 1);
  }
  return { text: `${lines.join('\n')}\n`, lengths };
}

async function download(page: Page, testId: string, name: string): Promise<Buffer> {
  const pending = page.waitForEvent('download');
  await page.getByTestId(testId).click();
  const d = await pending;
  expect(d.suggestedFilename()).toBe(name);
  return readFileSync(await d.path());
}

test('rows too long for the sequence length are shown apart from malformed ones, with their lengths; prompts can be cut from the left', async ({
  page,
}) => {
  const watch = watchPage(page);
  await openStudio(page);
  const { text, lengths } = mixedDataset();
  const sorted = [...lengths].sort((a, b) => a - b);
  const p95 = sorted[Math.ceil(0.95 * sorted.length) - 1]!;
  const suggested = Math.min(256, Math.ceil(p95 / 8) * 8);
  await uploadDataset(page, 'mixed.jsonl', text);
  await expect(page.getByTestId('dataset-examples')).toHaveText('40');

  // The sequence length follows the data: the 95 % length rounded up to a multiple of 8.
  await expect(page.getByTestId('seq-len')).toHaveValue(String(suggested));
  await expect(page.getByTestId('seq-len-note')).toContainText(`95 % of rows have ≤ ${p95} tokens`);
  await expect(page.getByTestId('length-stats')).toContainText(`95 % of rows fit in ${p95} tokens`);
  await expect(page.getByTestId('length-stats')).toContainText(`max ${sorted[sorted.length - 1]}`);
  await expect(page.getByTestId('length-histogram').locator('[data-count]')).not.toHaveCount(0);
  const histogramTotal = (
    await page
      .getByTestId('length-histogram')
      .locator('[data-count]')
      .evaluateAll((bars) => bars.map((b) => Number(b.getAttribute('data-count'))))
  ).reduce((a, b) => a + b, 0);
  expect(histogramTotal).toBe(40);

  // At 32 tokens every Alpaca prompt fills the sequence: those rows are too long, not bad.
  await setNumber(page, 'seq-len', 32);
  await expect(page.getByTestId('too-long-rows')).toContainText('10 rows too long for 32 tokens');
  await expect(page.getByTestId('bad-rows')).toContainText('2 bad rows');
  await expect(page.getByTestId('bad-rows')).not.toContainText('12');
  await expect(page.getByTestId('dataset-panel')).toContainText('row 1:');
  const rows = page.getByTestId('dataset-preview').locator('tbody tr');
  await expect(rows.first()).toHaveAttribute('data-status', 'too-long');
  await expect(rows.first()).toContainText('not used');
  await expect(page.getByTestId('train-sequences')).not.toHaveText('36');
  await screenshot(page, '21-dataset-lengths', 'dataset-panel');

  // Truncating the prompt from the left keeps every row (and its whole answer).
  await page.getByTestId('truncate-prompt-left').check();
  await expect(page.getByTestId('too-long-rows')).toHaveCount(0);
  await expect(rows.first()).toHaveAttribute('data-status', 'truncated');
  await expect(rows.nth(1)).toHaveAttribute('data-status', 'truncated');
  const train = Number(await page.getByTestId('train-sequences').textContent());
  const val = Number(await page.getByTestId('val-sequences').textContent());
  expect(train + val).toBe(40);
  await page.getByTestId('truncate-prompt-left').uncheck();
  await expect(page.getByTestId('too-long-rows')).toContainText('10 rows too long');

  // "Use" puts the 95 % length back; the preview shows the prompt and the whole answer, not clipped.
  await page.getByTestId('use-suggested-seq-len').click();
  await expect(page.getByTestId('seq-len')).toHaveValue(String(suggested));
  await expect(rows.first()).toHaveAttribute('data-status', 'truncated');
  await expect(rows.nth(1)).toHaveAttribute('data-status', 'fits');
  const prompt = rows.first().getByTestId('preview-prompt');
  const answer = rows.first().getByTestId('preview-answer');
  await expect(prompt).toHaveText(alpacaPrompt('Tell me fact 0').trim(), { useInnerText: true });
  await expect(answer).toContainText('END-OF-ANSWER');
  for (const cell of [prompt, answer]) {
    const { scroll, client } = await cell.evaluate((e) => ({ scroll: e.scrollHeight, client: e.clientHeight }));
    expect(scroll).toBeLessThanOrEqual(client + 1);
  }
  expect(watch.foreignRequests).toEqual([]);
  expect(watch.consoleErrors).toEqual([]);
});

test('an adapter imports from adapter.zip and from renamed downloads; a merged model is a whole HF folder; loose files do not name the base "local model"', async ({
  page,
}) => {
  const watch = watchPage(page);
  await openStudio(page);
  // dev-tiny's files picked one by one, with a config.json that names no _name_or_path and says bfloat16.
  const config = JSON.parse(readFileSync(join(DEV_TINY, 'config.json'), 'utf8')) as Record<string, unknown>;
  delete config._name_or_path;
  config.torch_dtype = 'bfloat16';
  const file = (name: string) => ({ name, mimeType: 'application/octet-stream', buffer: readFileSync(join(DEV_TINY, name)) });
  await page
    .getByTestId('model-files-input')
    .setInputFiles([
      { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(config)) },
      file('model.safetensors'),
      file('tokenizer.json'),
      file('tokenizer_config.json'),
    ]);
  await expect(page.getByTestId('model-name')).toHaveText('local model');
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(16));
  await expect(page.getByTestId('dataset-examples')).toHaveText('16');
  await setNumber(page, 'rank', 4);
  await setNumber(page, 'steps', 3);
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-status')).toHaveAttribute('data-status', 'finished', { timeout: 90_000 });

  const zip = await download(page, 'download-zip', 'adapter.zip');
  const adapter = unzipSync(new Uint8Array(zip));
  const adapterConfig = JSON.parse(new TextDecoder().decode(adapter['adapter_config.json'])) as Record<string, unknown>;
  expect(adapterConfig.base_model_name_or_path).toBeNull();

  const merged = unzipSync(new Uint8Array(await download(page, 'download-merged-zip', 'model.zip')));
  expect(Object.keys(merged).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  const mergedConfig = JSON.parse(new TextDecoder().decode(merged['config.json'])) as Record<string, unknown>;
  expect(mergedConfig.torch_dtype).toBe('float32');
  expect(Object.values(safetensorsHeader(Buffer.from(merged['model.safetensors']!))).every((t) => t.dtype === 'F32')).toBe(true);
  expect(new TextDecoder().decode(merged['tokenizer.json'])).toBe(readFileSync(join(DEV_TINY, 'tokenizer.json'), 'utf8'));

  // The studio's own zip imports as it is.
  await page.reload();
  await expect(page.getByTestId('model-name')).toHaveText('dev-tiny');
  await page.getByTestId('adapter-import').setInputFiles([{ name: 'adapter.zip', mimeType: 'application/zip', buffer: zip }]);
  await expect(page.getByTestId('train-message')).toContainText('Adapter imported');
  await expect(page.getByTestId('rank')).toHaveValue('4');

  // A browser's names for repeated downloads: the files are told apart by their content.
  await page.reload();
  await expect(page.getByTestId('model-name')).toHaveText('dev-tiny');
  await page.getByTestId('adapter-import').setInputFiles([
    {
      name: 'adapter_model (1).safetensors',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from(adapter['adapter_model.safetensors']!),
    },
    { name: 'adapter_config (1).json', mimeType: 'application/json', buffer: Buffer.from(adapter['adapter_config.json']!) },
  ]);
  await expect(page.getByTestId('train-message')).toContainText('Adapter imported');
  await expect(page.getByTestId('rank')).toHaveValue('4');

  // Two JSON files and no weights: the message says what is missing.
  await page.getByTestId('adapter-import').setInputFiles([
    { name: 'a.json', mimeType: 'application/json', buffer: Buffer.from(adapter['adapter_config.json']!) },
    { name: 'b.json', mimeType: 'application/json', buffer: Buffer.from('{"hello": 1}') },
  ]);
  await expect(page.getByTestId('export-panel').getByRole('alert')).toContainText('no adapter weights');
  await screenshot(page, '22-import-by-content', 'export-panel');
  expect(watch.foreignRequests).toEqual([]);
  expect(watch.consoleErrors).toEqual([]);
});

test('the sample picker fits its panel at 1400 px; one example is "1 example"; a PNG named .jsonl is called binary', async ({ page }) => {
  const watch = watchPage(page);
  await page.setViewportSize({ width: 1400, height: 900 });
  await openStudio(page);
  const panel = (await page.getByTestId('dataset-panel').boundingBox())!;
  const picker = (await page.getByTestId('sample-dataset').boundingBox())!;
  expect(picker.x + picker.width).toBeLessThanOrEqual(panel.x + panel.width);

  await uploadDataset(page, 'one.jsonl', `${JSON.stringify({ prompt: 'Q: hi', completion: ' yes' })}\n`);
  await expect(page.getByTestId('dataset-examples')).toHaveText('1');
  await expect(page.getByTestId('dataset-summary')).toContainText('1 example,');
  await expect(page.getByTestId('dataset-summary')).not.toContainText('1 examples');

  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    Buffer.from('IHDR'),
    Buffer.alloc(64, 0xff),
  ]);
  await page.getByTestId('dataset-input').setInputFiles({ name: 'picture.jsonl', mimeType: 'image/png', buffer: png });
  await expect(page.getByTestId('dataset-panel').getByRole('alert')).toContainText('picture.jsonl: binary file, not text');
  await screenshot(page, '23-dataset-1400px', 'dataset-panel');
  expect(watch.consoleErrors).toEqual([]);
});

test('chat rows take the chosen chat template, and their targets end with its end-of-turn marker', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  const line = JSON.stringify({
    messages: [
      { role: 'user', content: 'Hi?' },
      { role: 'assistant', content: 'Hello!' },
    ],
  });
  await uploadDataset(page, 'chat.jsonl', `${line}\n${line}\n${line}\n`);
  await expect(page.getByTestId('dataset-examples')).toHaveText('3');
  const first = page.getByTestId('dataset-preview').locator('tbody tr').first();
  await expect(page.getByTestId('chat-template')).toHaveValue('model');
  await expect(first.getByTestId('preview-answer')).toHaveText('Hello!<|endoftext|>');

  await page.getByTestId('chat-template').selectOption('chatml');
  await expect(first.getByTestId('preview-prompt')).toHaveText('<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant', {
    useInnerText: true,
  });
  await expect(first.getByTestId('preview-answer')).toHaveText('Hello!<|im_end|>');
  await expect(first.locator('td').nth(2)).toHaveText(String(bytes('Hello!<|im_end|>')));
  // ChatML's markers are bytes to dev-tiny's tokenizer: the rows no longer fit, and "Use" makes them fit again.
  await expect(page.getByTestId('too-long-rows')).toContainText('3 rows too long');
  await page.getByTestId('use-suggested-seq-len').click();
  await expect(page.getByTestId('too-long-rows')).toHaveCount(0);
  await expect(first).toHaveAttribute('data-status', 'fits');
  await expect(page.getByTestId('seq-len-note')).toHaveCount(0); // it spoke of the model's own template's lengths
  await screenshot(page, '24-chat-template', 'dataset-panel');

  await page.getByTestId('chat-template').selectOption('llama2');
  await expect(first.getByTestId('preview-prompt')).toHaveText('[INST] Hi? [/INST]');
  await expect(first.getByTestId('preview-answer')).toHaveText('Hello! <|endoftext|>');

  await page.getByTestId('chat-template').selectOption('alpaca');
  await expect(first.getByTestId('preview-prompt')).toContainText('### Instruction:');
  await expect(first.getByTestId('preview-answer')).toHaveText('Hello!<|endoftext|>');
  await expect(first.locator('td').nth(2)).toHaveText(String(bytes('Hello!') + 1));
  expect(watch.consoleErrors).toEqual([]);
});
