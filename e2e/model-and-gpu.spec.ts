import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStudio, screenshot } from './helpers';

const DEV = join(import.meta.dirname, '..', 'public', 'models', 'dev-tiny');
const file = (name: string, buffer: Buffer) => ({ name, mimeType: 'application/octet-stream', buffer });

test('a malformed model file is refused with the file and the problem named', async ({ page }) => {
  await openStudio(page);
  await page
    .getByTestId('model-files-input')
    .setInputFiles([
      file('config.json', readFileSync(join(DEV, 'config.json'))),
      file('tokenizer.json', readFileSync(join(DEV, 'tokenizer.json'))),
      file('model.safetensors', Buffer.from('this is not a safetensors file at all')),
    ]);
  const alert = page.getByTestId('model-panel').getByRole('alert');
  await expect(alert).toContainText('model.safetensors: header length');
  await expect(page.getByTestId('model-name')).toHaveText('dev-tiny');

  const config = JSON.parse(readFileSync(join(DEV, 'config.json'), 'utf8'));
  await page
    .getByTestId('model-files-input')
    .setInputFiles([
      file('config.json', Buffer.from(JSON.stringify({ ...config, model_type: 'mamba' }))),
      file('tokenizer.json', readFileSync(join(DEV, 'tokenizer.json'))),
      file('model.safetensors', readFileSync(join(DEV, 'model.safetensors'))),
    ]);
  await expect(alert).toContainText('config.json: model_type the string "mamba" is not supported');
  await screenshot(page, '08-bad-model', 'model-panel');
});

test('a local model folder loads through the folder picker', async ({ page }) => {
  await openStudio(page);
  await page.getByTestId('model-folder-input').setInputFiles(DEV);
  await expect(page.getByTestId('model-name')).toHaveText('dev-tiny');
  await expect(page.getByTestId('model-params')).toHaveText('90,496');
});

test('without WebGPU a clear page says what is missing and where it works', async ({ page }) => {
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
  });
  await page.goto('/');
  const notice = page.getByTestId('no-webgpu');
  await expect(notice).toContainText('WebGPU is not available');
  await expect(notice).toContainText('navigator.gpu');
  await expect(notice).toContainText('Chrome and Edge 113');
  await screenshot(page, '09-no-webgpu');
});
