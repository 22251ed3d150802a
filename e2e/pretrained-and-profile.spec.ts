import { expect, test } from '@playwright/test';
import { repetitiveJsonl, screenshot, setNumber, uploadDataset, watchPage } from './helpers';

// Words that make up most of any KJV passage: a model that learned the corpus writes them.
const KJV_WORDS = new Set([
  'the',
  'and',
  'of',
  'unto',
  'that',
  'he',
  'they',
  'in',
  'to',
  'his',
  'shall',
  'lord',
  'i',
  'is',
  'for',
  'a',
  'be',
  'it',
  'with',
  'them',
  'not',
  'all',
  'was',
  'which',
  'said',
  'god',
  'israel',
  'ye',
  'him',
  'my',
  'me',
  'thou',
  'thy',
  'their',
  'from',
  'upon',
  'have',
  'will',
  'were',
  'children',
  'king',
  'land',
  'people',
  'house',
  'son',
  'sons',
  'out',
  'into',
]);

test('the studio opens on the pretrained kjv-tiny, which writes English-like text', async ({ page }) => {
  const watch = watchPage(page);
  await page.goto('/');
  await expect(page.getByTestId('gpu-info')).toContainText('WebGPU');
  await expect(page.getByTestId('model-name')).toHaveText('kjv-tiny', { timeout: 60_000 });
  await expect(page.getByTestId('model-facts')).toContainText('pretrained on the King James Bible');
  await page.getByTestId('prompt').fill('And God said');
  await setNumber(page, 'temperature', 0);
  await setNumber(page, 'max-tokens', 16);
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('output-base')).toHaveAttribute('data-done', 'true', { timeout: 120_000 });
  const text = (await page.getByTestId('output-base-text').textContent()) ?? '';
  const words = text.match(/[A-Za-z]+/g) ?? [];
  expect(words.length, text).toBeGreaterThanOrEqual(5);
  expect(words.filter((w) => KJV_WORDS.has(w.toLowerCase())).length, text).toBeGreaterThanOrEqual(3);
  await screenshot(page, '13-kjv-tiny-generate', 'generate-panel');
  expect(watch.consoleErrors).toEqual([]);
  expect(watch.foreignRequests).toEqual([]);
});

test("?profile lists each kernel's GPU time (timestamp-query) after training steps", async ({ page }) => {
  await page.goto('/?model=dev-tiny&profile');
  await expect(page.getByTestId('model-name')).toHaveText('dev-tiny');
  await expect(page.getByTestId('profile-panel')).toContainText('Train to see');
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(16));
  await expect(page.getByTestId('dataset-examples')).toHaveText('16');
  await setNumber(page, 'steps', 4);
  await setNumber(page, 'eval-every', 2);
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-status')).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
  const rows = page.getByTestId('profile-table').locator('tbody tr');
  await expect(page.getByTestId('profile-panel')).toContainText('After step 4');
  expect(await rows.count()).toBeGreaterThan(8);
  const kernels = await rows.locator('td:first-child').allTextContents();
  expect(kernels.some((k) => k.startsWith('matmul'))).toBe(true);
  expect(kernels).toContain('adamw');
  await page.getByTestId('profile-panel').scrollIntoViewIfNeeded();
  await screenshot(page, '14-profile', 'profile-panel');
});
