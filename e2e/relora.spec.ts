import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { openStudio, repetitiveJsonl, safetensorsHeader, screenshot, setNumber, uploadDataset, watchPage } from './helpers';

const DEV = join(import.meta.dirname, '..', 'public', 'models', 'dev-tiny');

test('ReLoRA: warm start, resets marked on the loss chart, jagged lr, merged model download', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(24));
  await expect(page.getByTestId('dataset-examples')).toHaveText('24');

  await page.getByTestId('method-relora').check();
  await expect(page.getByTestId('relora-fields')).toBeVisible();
  await expect(page.getByTestId('relora-pruning')).toHaveValue('random');
  await expect(page.getByTestId('relora-pruning-ratio')).toHaveValue('0.999');
  await setNumber(page, 'rank', 4);
  await setNumber(page, 'steps', 12);
  await setNumber(page, 'lr', 0.005);
  await setNumber(page, 'warmup-steps', 1);
  await setNumber(page, 'eval-every', 6);
  await setNumber(page, 'relora-warm-start', 3);
  await setNumber(page, 'relora-reset-every', 3);
  await setNumber(page, 'relora-restart-warmup', 1);
  // LoRA phase: 2 layers · 4·(in+out) summed over the 7 linears = 8,192, plus embeddings and norms 16,768.
  await expect(page.getByTestId('trainable-count')).toHaveText(
    /^ReLoRA: 24,960 trainable, [\d.]+ % \(full-rank warm start of 3 steps with all [\d,]+, then rank-4 LoRA on every linear merged every 3 steps\)$/,
  );
  await screenshot(page, '10-relora-method', 'method-panel');

  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-status')).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
  await expect(page.getByTestId('train-message')).toHaveText('Finished 12 steps.');
  const loss = page.getByTestId('loss-chart');
  await expect(loss).toHaveAttribute('data-points', '12');
  // LoRA starts at step 4 (after 3 warm-start steps); merges right before steps 7 and 10.
  await expect(loss).toHaveAttribute('data-lora-start', '4');
  await expect(loss).toHaveAttribute('data-resets', '7,10');
  expect(Number.isFinite(Number(await loss.getAttribute('data-last-loss')))).toBe(true);
  // The jagged cosine: the lr drops to 0 right at each reset and climbs back.
  const lrs = (await page.getByTestId('lr-chart').getAttribute('data-lrs'))!.split(',').map(Number);
  expect(lrs).toHaveLength(12);
  expect(lrs[6]).toBe(0);
  expect(lrs[9]).toBe(0);
  expect(lrs[7]!).toBeGreaterThan(0);
  expect(lrs[5]!).toBeGreaterThan(0);
  await page.getByTestId('train-panel').scrollIntoViewIfNeeded();
  await screenshot(page, '11-relora-training', 'train-panel');

  await expect(page.getByTestId('download-zip')).toHaveCount(0);
  const download = page.waitForEvent('download');
  await page.getByTestId('download-merged-zip').click();
  const zip = await download;
  expect(zip.suggestedFilename()).toBe('model.zip');
  const files = unzipSync(new Uint8Array(readFileSync(await zip.path())));
  // A whole Hugging Face folder: the weights, config.json and the tokenizer files the model came with.
  expect(Object.keys(files).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  const original = safetensorsHeader(readFileSync(join(DEV, 'model.safetensors')));
  const merged = safetensorsHeader(Buffer.from(files['model.safetensors']!));
  expect(Object.keys(merged).sort()).toEqual(Object.keys(original).sort());
  for (const [key, t] of Object.entries(original)) expect(merged[key]!.shape, key).toEqual(t.shape);
  expect(JSON.parse(new TextDecoder().decode(files['config.json']))).toMatchObject({
    model_type: 'llama',
    hidden_size: 64,
    torch_dtype: 'float32',
  });

  await page.getByTestId('prompt').fill('Q1: colour?');
  await setNumber(page, 'max-tokens', 6);
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('output-adapted')).toHaveAttribute('data-done', 'true', { timeout: 60_000 });
  await expect(page.getByTestId('generate-panel')).toContainText('After ReLoRA');
  await expect(page.getByTestId('output-adapted-text')).not.toHaveText('(no adapter yet: train or import one)');
  expect(watch.consoleErrors).toEqual([]);
});
