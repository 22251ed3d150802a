import { expect, test } from '@playwright/test';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SP_TOKENIZER_CONFIG, sentencePieceTokenizerJson } from '../test/tokenizer/sentencepiece';
import { openStudio, setNumber, watchPage } from './helpers';

// The reported defect: with Llama 2's tokenizer, "The film was" → "The film wascheaper…". Its
// decoder strips the space a continuation starts with when the continuation is decoded alone.
let dir = '';
test.beforeAll(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'sp-model-')), 'sp-llama');
  const dev = join(import.meta.dirname, '..', 'public', 'models', 'dev-tiny');
  mkdirSync(dir);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(dev, f), join(dir, f));
  // Every piece but the specials is "▁word", so every generated token starts a new word.
  writeFileSync(join(dir, 'tokenizer.json'), sentencePieceTokenizerJson('llama2', 257));
  writeFileSync(join(dir, 'tokenizer_config.json'), SP_TOKENIZER_CONFIG);
});
test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('generation keeps the space between the prompt and the continuation (Llama 2 tokenizer)', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  await page.getByTestId('model-folder-input').setInputFiles(dir);
  await expect(page.getByTestId('model-name')).toHaveText('sp-llama');
  await page.getByTestId('prompt').fill('The film was');
  await setNumber(page, 'temperature', 0);
  await setNumber(page, 'max-tokens', 5);
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('output-base')).toHaveAttribute('data-done', 'true', { timeout: 60_000 });
  const text = await page.getByTestId('output-base-text').textContent();
  // Five words, each with the space before it: nothing glued to "was".
  expect(text).toMatch(/^( [^\s]+){5}$/);
  expect(watch.foreignRequests).toEqual([]);
  expect(watch.consoleErrors).toEqual([]);
});
