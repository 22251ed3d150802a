import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { openStudio, repetitiveJsonl, setNumber, uploadDataset, watchPage } from './helpers';

async function download(page: Page, testId: string, name: string): Promise<Buffer> {
  const pending = page.waitForEvent('download');
  await page.getByTestId(testId).click();
  const d = await pending;
  expect(d.suggestedFilename()).toBe(name);
  return readFileSync(await d.path());
}

/** Greedy generation; returns [base, adapted]. */
async function generate(page: Page): Promise<[string, string]> {
  await page.getByTestId('prompt').fill('Q2: colour?');
  // Trained on prompt/completion pairs: the prompt goes in as written, not as a chat turn.
  await page.getByTestId('use-chat-template').uncheck();
  await setNumber(page, 'max-tokens', 8);
  await setNumber(page, 'temperature', 0);
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('output-adapted')).toHaveAttribute('data-done', 'true', { timeout: 60_000 });
  return [(await page.getByTestId('output-base-text').textContent())!, (await page.getByTestId('output-adapted-text').textContent())!];
}

test('a downloaded adapter imports after a reload and generates exactly as before', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(16));
  await setNumber(page, 'rank', 4);
  await setNumber(page, 'steps', 6);
  await setNumber(page, 'lr', 0.05);
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-status')).toHaveAttribute('data-status', 'finished', { timeout: 90_000 });

  const weights = await download(page, 'download-weights', 'adapter_model.safetensors');
  const config = await download(page, 'download-config', 'adapter_config.json');
  const [base, adapted] = await generate(page);
  expect(adapted).not.toBe(base);

  await page.reload();
  await expect(page.getByTestId('model-name')).toHaveText('dev-tiny');
  await page.getByTestId('adapter-import').setInputFiles([
    { name: 'adapter_config.json', mimeType: 'application/json', buffer: config },
    { name: 'adapter_model.safetensors', mimeType: 'application/octet-stream', buffer: weights },
  ]);
  await expect(page.getByTestId('train-message')).toContainText('Adapter imported');
  await expect(page.getByTestId('rank')).toHaveValue('4');
  const [baseAfter, adaptedAfter] = await generate(page);
  expect(baseAfter).toBe(base);
  expect(adaptedAfter).toBe(adapted);
  expect(watch.consoleErrors).toEqual([]);
});
