import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { openStudio, repetitiveJsonl, safetensorsHeader, screenshot, setNumber, uploadDataset, watchPage } from './helpers';

// The dev-tiny model: Llama, hidden 64, 2 layers, 4 heads, 2 kv heads (head dim 16), intermediate 128.
const HIDDEN = 64;
const KV_OUT = 32;
const RANK = 4;

test('the whole flow: dataset, DoRA training, update view, generation, PEFT export', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  await screenshot(page, '01-open');

  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(40));
  await expect(page.getByTestId('dataset-examples')).toHaveText('40');
  await expect(page.getByTestId('bad-rows')).toContainText('0 bad rows');
  await screenshot(page, '02-dataset', 'dataset-panel');

  await page.getByTestId('method-dora').check();
  await setNumber(page, 'rank', RANK);
  await setNumber(page, 'steps', 24);
  await setNumber(page, 'lr', 0.02);
  await expect(page.getByTestId('trainable-count')).toHaveText(/^DoRA: [\d,]+ trainable, [\d.]+ %$/);
  // q_proj: 4·(64+64) + 64, v_proj: 4·(64+32) + 32, two layers.
  const expected = 2 * (RANK * (HIDDEN + HIDDEN) + HIDDEN + RANK * (HIDDEN + KV_OUT) + KV_OUT);
  await expect(page.getByTestId('trainable-count')).toContainText(`${expected.toLocaleString('en-US')} trainable`);
  await screenshot(page, '03-method', 'method-panel');

  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-status')).toHaveAttribute('data-status', 'finished', { timeout: 180_000 });
  const points = Number(await page.getByTestId('loss-chart').getAttribute('data-points'));
  expect(points).toBeGreaterThanOrEqual(20);
  const firstLoss = Number(await page.getByTestId('loss-chart').getAttribute('data-first-loss'));
  const lastLoss = Number(await page.getByTestId('loss-chart').getAttribute('data-last-loss'));
  expect(Number.isFinite(firstLoss) && Number.isFinite(lastLoss)).toBe(true);
  expect(lastLoss).toBeLessThan(firstLoss);
  await screenshot(page, '04-training', 'train-panel');

  await page.getByTestId('update-open').click();
  await expect(page.getByTestId('update-view')).toBeVisible();
  await expect(page.getByTestId('update-table').locator('tbody tr')).toHaveCount(4);
  await screenshot(page, '05-update-view', 'update-panel');

  await page.getByTestId('prompt').fill('Q1: colour?');
  // Trained on prompt/completion pairs: the prompt goes in as written, not as a chat turn.
  await page.getByTestId('use-chat-template').uncheck();
  await setNumber(page, 'max-tokens', 10);
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('output-adapted')).toHaveAttribute('data-done', 'true', { timeout: 60_000 });
  await expect(page.getByTestId('output-base')).toHaveAttribute('data-done', 'true');
  expect((await page.getByTestId('output-adapted-text').textContent())!.length).toBeGreaterThan(0);
  await screenshot(page, '06-generate', 'generate-panel');

  const zipDownload = page.waitForEvent('download');
  await page.getByTestId('download-zip').click();
  const zip = await zipDownload;
  expect(zip.suggestedFilename()).toBe('adapter.zip');
  const files = unzipSync(new Uint8Array(readFileSync(await zip.path())));
  expect(Object.keys(files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  checkPeftAdapter(Buffer.from(files['adapter_model.safetensors']!), JSON.parse(new TextDecoder().decode(files['adapter_config.json'])));

  const weightsDownload = page.waitForEvent('download');
  await page.getByTestId('download-weights').click();
  const weights = await weightsDownload;
  expect(weights.suggestedFilename()).toBe('adapter_model.safetensors');
  expect(Object.keys(safetensorsHeader(readFileSync(await weights.path())))).toHaveLength(12);

  expect(watch.foreignRequests).toEqual([]);
  expect(watch.consoleErrors).toEqual([]);
});

function checkPeftAdapter(bytes: Buffer, config: Record<string, unknown>): void {
  expect(config).toMatchObject({
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: RANK,
    use_dora: true,
    use_rslora: false,
    bias: 'none',
    target_modules: ['q_proj', 'v_proj'],
    base_model_name_or_path: 'dev-tiny',
  });
  const header = safetensorsHeader(bytes);
  const expected: Record<string, number[]> = {};
  for (const layer of [0, 1]) {
    for (const [mod, out] of [
      ['q_proj', HIDDEN],
      ['v_proj', KV_OUT],
    ] as const) {
      const p = `base_model.model.model.layers.${layer}.self_attn.${mod}`;
      expected[`${p}.lora_A.weight`] = [RANK, HIDDEN];
      expected[`${p}.lora_B.weight`] = [out, RANK];
      expected[`${p}.lora_magnitude_vector`] = [out];
    }
  }
  expect(Object.keys(header).sort()).toEqual(Object.keys(expected).sort());
  for (const [key, shape] of Object.entries(expected)) {
    expect(header[key]!.shape, key).toEqual(shape);
    expect(header[key]!.dtype).toBe('F32');
  }
}
