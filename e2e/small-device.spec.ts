import { expect, type Page, test } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyGpt2, WIDE_VOCAB_GPT2, writeTinyModel } from '../scripts/make-tiny-family-models';
import { screenshot, setNumber, uploadDataset, watchPage } from './helpers';

// A one-layer GPT-2 with GPT-2 124M's vocabulary and width, written at test time: its embedding
// [50257, 768] takes 147 MiB in f32, more than the 128 MiB one binding gets under WebGPU's
// default limits, so the studio must keep it (and the tied LM head) in row blocks.
let dir = '';
let folder = '';
test.beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'small-device-'));
  folder = writeTinyModel(dir, tinyGpt2(WIDE_VOCAB_GPT2));
});
test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MIB = 2 ** 20;

/** Opens the studio (`query`), the wide-vocabulary model and a dataset, trains 3 LoRA steps and returns their losses. */
async function trainThreeSteps(page: Page, query: string): Promise<number[]> {
  await page.goto(`/?model=dev-tiny${query}`);
  await expect(page.getByTestId('model-name')).toHaveText('dev-tiny');
  await page.getByTestId('model-folder-input').setInputFiles(folder);
  await expect(page.getByTestId('model-name')).toHaveText('wide-vocab-gpt2', { timeout: 120_000 });
  await uploadDataset(page, 'text.txt', 'The quick brown fox jumps over the lazy dog.\n\n'.repeat(8));
  await expect(page.getByTestId('dataset-examples')).toHaveText('8');
  await page.getByTestId('method-lora').check();
  await page.getByTestId('target-c_attn').check();
  await setNumber(page, 'rank', 4);
  await setNumber(page, 'lr', 0.01);
  await page.getByTestId('schedule').selectOption('constant');
  await setNumber(page, 'steps', 3);
  await setNumber(page, 'batch-size', 1);
  await setNumber(page, 'seq-len', 16);
  await setNumber(page, 'eval-every', 3);
  await expect(page.getByTestId('train-start')).toBeEnabled();
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-status')).toHaveAttribute('data-status', 'finished', { timeout: 240_000 });
  return (await page.getByTestId('loss-chart').getAttribute('data-losses'))!.split(',').map(Number);
}

test('?limits=default: a device with WebGPU default limits trains a model whose embedding is larger than one binding', async ({ page }) => {
  test.setTimeout(400_000);
  const watch = watchPage(page);
  expect(50_257 * 768 * 4).toBeGreaterThan(128 * MIB);
  const small = await trainThreeSteps(page, '&limits=default');
  // The device asked for exactly the spec's defaults: 128 MiB per binding, 256 MiB per buffer.
  await expect(page.getByTestId('gpu-info')).toContainText('max binding 128 MiB · max buffer 256 MiB');
  await screenshot(page, '27-small-device-training', 'train-panel');
  // The same run on the adapter's limits (1 GiB here: the embedding in one buffer) has the same losses.
  const large = await trainThreeSteps(page, '');
  await expect(page.getByTestId('gpu-info')).not.toContainText('max binding 128 MiB');
  console.log(`losses: default limits ${small.join(', ')}; adapter limits ${large.join(', ')}`);
  expect(small).toHaveLength(3);
  expect(small).toEqual(large);
  expect(watch.foreignRequests).toEqual([]);
  expect(watch.consoleErrors).toEqual([]);
});
