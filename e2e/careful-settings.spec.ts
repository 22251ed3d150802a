import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { openStudio, repetitiveJsonl, screenshot, setNumber, uploadDataset, watchPage } from './helpers';

// dev-tiny: Llama, hidden 64, 2 layers, k/v out 32, intermediate 128, 256 positions.

async function expectInvalid(page: Page, testId: string, reason: RegExp): Promise<void> {
  await expect(page.getByTestId(testId)).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByTestId(`${testId}-error`)).toHaveText(reason);
  await expect(page.getByTestId('train-start')).toBeDisabled();
}

async function expectValid(page: Page, testId: string): Promise<void> {
  await expect(page.getByTestId(testId)).not.toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByTestId(`${testId}-error`)).toHaveCount(0);
}

async function waitFinished(page: Page): Promise<void> {
  await expect(page.getByTestId('train-status')).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
}

test('invalid settings are marked with the reason, block training and the summaries', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(40));
  await expect(page.getByTestId('dataset-examples')).toHaveText('40');
  await expect(page.getByTestId('train-start')).toBeEnabled();

  for (const rank of [0, -3, 2.5]) {
    await setNumber(page, 'rank', rank);
    await expectInvalid(page, 'rank', /positive (whole number|integer)/);
    // Nothing is computed from the bad rank: no "0 trainable", no negative counts or bytes.
    await expect(page.getByTestId('trainable-count')).not.toContainText('trainable');
    await expect(page.getByTestId('memory-estimate')).toHaveCount(0);
  }
  // Beyond the narrowest adapted layer (v_proj: 32 outputs) LoRA is no longer low-rank.
  await setNumber(page, 'rank', 33);
  await expectInvalid(page, 'rank', /at most 32/);
  await setNumber(page, 'rank', 4);
  await expectValid(page, 'rank');
  await expect(page.getByTestId('trainable-count')).toContainText('LoRA: ');
  await expect(page.getByTestId('memory-estimate')).toContainText('adapter + optimizer');

  await setNumber(page, 'lr', -0.01);
  await expectInvalid(page, 'lr', /greater than 0/);
  await setNumber(page, 'lr', 0);
  await expectInvalid(page, 'lr', /greater than 0/);
  await setNumber(page, 'lr', 0.01);
  await setNumber(page, 'steps', 0);
  await expectInvalid(page, 'steps', /at least 1/);
  await setNumber(page, 'steps', 20);
  await setNumber(page, 'warmup-steps', 50);
  await expectInvalid(page, 'warmup-steps', /at most the 20 training steps/);
  await setNumber(page, 'warmup-steps', 2);
  await setNumber(page, 'alpha', 0);
  await expectInvalid(page, 'alpha', /greater than 0/);
  await setNumber(page, 'alpha', 8);
  await setNumber(page, 'dropout', 1);
  await expectInvalid(page, 'dropout', /\[0, 1\)/);
  await setNumber(page, 'dropout', 0);
  await setNumber(page, 'seq-len', 1000);
  await expectInvalid(page, 'seq-len', /256/);
  await setNumber(page, 'seq-len', 32);
  await setNumber(page, 'batch-size', 0);
  await expectInvalid(page, 'batch-size', /at least 1/);
  await setNumber(page, 'batch-size', 4);
  await page.getByTestId('rank').fill('');
  await expectInvalid(page, 'rank', /enter a number/);
  await setNumber(page, 'lr', -1);
  await setNumber(page, 'steps', 0);
  await expect(page.getByTestId('settings-problems')).toContainText('3 settings');
  await screenshot(page, '19-settings-validation', 'method-panel');
  await setNumber(page, 'rank', 4);
  await setNumber(page, 'lr', 0.01);
  await setNumber(page, 'steps', 20);
  await expect(page.getByTestId('train-start')).toBeEnabled();
  await expect(page.getByTestId('settings-problems')).toHaveCount(0);
  expect(watch.consoleErrors).toEqual([]);
});

test('VeRA gets its own lr and rank unless set, learns at them, and its update view reads', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(40));
  await expect(page.getByTestId('rank')).toHaveValue('8');
  await expect(page.getByTestId('lr')).toHaveValue('0.01');

  await page.getByTestId('method-vera').check();
  await expect(page.getByTestId('rank')).toHaveValue('256');
  await expect(page.getByTestId('lr')).toHaveValue('0.1');
  await expect(page.getByTestId('method-defaults-hint')).toContainText('VeRA');
  await page.getByTestId('method-lora').check();
  await expect(page.getByTestId('rank')).toHaveValue('8');
  await expect(page.getByTestId('lr')).toHaveValue('0.01');
  // A value the user typed is kept, and the hint says so.
  await setNumber(page, 'lr', 0.02);
  await page.getByTestId('method-vera').check();
  await expect(page.getByTestId('lr')).toHaveValue('0.02');
  await expect(page.getByTestId('rank')).toHaveValue('256');
  await expect(page.getByTestId('method-defaults-hint')).toContainText('kept your learning rate');
  await setNumber(page, 'lr', 0.1);

  await setNumber(page, 'steps', 20);
  await setNumber(page, 'eval-every', 10);
  await page.getByTestId('train-start').click();
  await waitFinished(page);
  const firstLoss = Number(await page.getByTestId('loss-chart').getAttribute('data-first-loss'));
  const lastLoss = Number(await page.getByTestId('loss-chart').getAttribute('data-last-loss'));
  // At the old defaults (rank 8, lr 0.01) the loss moved 1 % in 20 steps (5.575 → 5.523); at VeRA's own, 8 % (→ 5.137).
  expect(lastLoss).toBeLessThan(firstLoss * 0.95);

  await page.getByTestId('update-open').click();
  await expect(page.getByTestId('update-view')).toBeVisible();
  for (const chart of ['delta-m-chart', 'delta-d-chart', 'update-scatter']) {
    const ticks = (await page.getByTestId(chart).getAttribute('data-y-ticks'))!.split('|');
    expect(ticks.length, chart).toBeGreaterThan(1);
    expect(new Set(ticks).size, `${chart}: ${ticks.join(' ')}`).toBe(ticks.length);
  }
  const xTicks = (await page.getByTestId('update-scatter').getAttribute('data-x-ticks'))!.split('|');
  expect(new Set(xTicks).size, xTicks.join(' ')).toBe(xTicks.length);
  await page.getByTestId('update-panel').scrollIntoViewIfNeeded();
  await screenshot(page, '20-vera-update-view', 'update-panel');
  expect(watch.consoleErrors).toEqual([]);
});

test('after a ReLoRA run the update view says why it is empty instead of a dead "Hide"', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(24));
  await setNumber(page, 'rank', 4);
  await setNumber(page, 'steps', 4);
  await setNumber(page, 'eval-every', 2);
  await page.getByTestId('train-start').click();
  await waitFinished(page);
  await page.getByTestId('update-open').click();
  await expect(page.getByTestId('update-view')).toBeVisible();

  await page.getByTestId('method-relora').check();
  await setNumber(page, 'steps', 6);
  await setNumber(page, 'warmup-steps', 1);
  await setNumber(page, 'relora-warm-start', 2);
  await setNumber(page, 'relora-reset-every', 2);
  await setNumber(page, 'relora-restart-warmup', 0);
  await page.getByTestId('train-start').click();
  await waitFinished(page);
  await expect(page.getByTestId('update-view')).toHaveCount(0);
  await expect(page.getByTestId('update-open')).not.toContainText('Hide');
  await expect(page.getByTestId('update-empty')).toContainText('ReLoRA');
  expect(watch.consoleErrors).toEqual([]);
});

test('validation size, max samples, weight decay and max grad norm are in the Method panel and reach the worker', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(40));
  await expect(page.getByTestId('dataset-examples')).toHaveText('40');
  await expect(page.getByTestId('val-fraction')).toHaveValue('0.1');
  await expect(page.getByTestId('val-sequences')).toHaveText('4');
  await setNumber(page, 'val-fraction', 0.25);
  await expect(page.getByTestId('val-sequences')).toHaveText('10');
  await setNumber(page, 'val-fraction', 1);
  await expectInvalid(page, 'val-fraction', /less than 1/);
  await setNumber(page, 'val-fraction', 0.25);
  await setNumber(page, 'max-samples', 20);
  await expect(page.getByTestId('train-sequences')).toHaveText('15');
  await expect(page.getByTestId('val-sequences')).toHaveText('5');
  await setNumber(page, 'max-samples', -1);
  await expectInvalid(page, 'max-samples', /0 \(all\) or more/);
  await setNumber(page, 'max-samples', 0);
  await expect(page.getByTestId('train-sequences')).toHaveText('30');
  await setNumber(page, 'weight-decay', -0.1);
  await expectInvalid(page, 'weight-decay', /0 or more/);
  await setNumber(page, 'weight-decay', 0.01);

  // Clipping the gradient norm to almost nothing (far below AdamW's eps) stops learning; the same
  // batches without it learn. Both runs see the same batches (same seed), so step 1 matches.
  await setNumber(page, 'rank', 4);
  await setNumber(page, 'lr', 0.05);
  await setNumber(page, 'steps', 6);
  await setNumber(page, 'warmup-steps', 0);
  await setNumber(page, 'eval-every', 6);
  await setNumber(page, 'max-grad-norm', 1e-12);
  await page.getByTestId('train-start').click();
  await waitFinished(page);
  const clipped = (await page.getByTestId('loss-chart').getAttribute('data-losses'))!.split(',').map(Number);
  await setNumber(page, 'max-grad-norm', 1);
  await page.getByTestId('train-start').click();
  await waitFinished(page);
  const free = (await page.getByTestId('loss-chart').getAttribute('data-losses'))!.split(',').map(Number);
  expect(free[0]).toBeCloseTo(clipped[0]!, 4);
  expect(free[5]!).toBeLessThan(clipped[5]! - 0.05);
  expect(watch.consoleErrors).toEqual([]);
});

test('the run settings save to a JSON file and load back, bad fields named', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  await setNumber(page, 'rank', 4);
  await setNumber(page, 'lr', 0.03);
  await setNumber(page, 'steps', 12);
  await page.getByTestId('target-k_proj').check();
  const download = page.waitForEvent('download');
  await page.getByTestId('settings-save').click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('studio-settings.json');
  const saved = JSON.parse(readFileSync(await file.path(), 'utf8')) as Record<string, unknown>;
  expect(saved).toMatchObject({ method: 'lora', rank: 4, lr: 0.03, steps: 12, targets: ['q_proj', 'v_proj', 'k_proj'] });

  const load = (json: unknown) =>
    page.getByTestId('settings-load').setInputFiles({
      name: 'run.json',
      mimeType: 'application/json',
      buffer: Buffer.from(typeof json === 'string' ? json : JSON.stringify(json)),
    });
  await load({ ...saved, rank: -1, lr: 'fast', targets: ['nope_proj'] });
  await expect(page.getByTestId('settings-load-error')).toContainText('rank');
  await expect(page.getByTestId('settings-load-error')).toContainText('lr');
  await expect(page.getByTestId('settings-load-error')).toContainText('targets');
  await expect(page.getByTestId('rank')).toHaveValue('4');
  await load('{ not json');
  await expect(page.getByTestId('settings-load-error')).toContainText('JSON');

  await load({ ...saved, rank: 6, lr: 0.005, steps: 9, method: 'dora' });
  await expect(page.getByTestId('settings-load-error')).toHaveCount(0);
  await expect(page.getByTestId('rank')).toHaveValue('6');
  await expect(page.getByTestId('lr')).toHaveValue('0.005');
  await expect(page.getByTestId('steps')).toHaveValue('9');
  await expect(page.getByTestId('method-dora')).toBeChecked();
  await expect(page.getByTestId('target-k_proj')).toBeChecked();
  expect(watch.consoleErrors).toEqual([]);
});

test("the last session's settings come back on open; a corrupt stored value is ignored", async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  await page.getByTestId('method-dora').check();
  await setNumber(page, 'rank', 4);
  await setNumber(page, 'lr', 0.03);
  await page.getByTestId('target-k_proj').check();
  await openStudio(page);
  await expect(page.getByTestId('method-dora')).toBeChecked();
  await expect(page.getByTestId('rank')).toHaveValue('4');
  await expect(page.getByTestId('lr')).toHaveValue('0.03');
  await expect(page.getByTestId('target-k_proj')).toBeChecked();

  const key = await page.evaluate(() => Object.keys(localStorage).find((k) => k.includes('settings'))!);
  expect(key).toBeTruthy();
  await page.evaluate((k) => localStorage.setItem(k, '{ corrupt'), key);
  await openStudio(page);
  await expect(page.getByTestId('method-lora')).toBeChecked();
  await expect(page.getByTestId('rank')).toHaveValue('8');
  await page.evaluate((k) => localStorage.setItem(k, JSON.stringify({ version: 1, settings: { rank: 'x', lr: 0.04, relora: 5 } })), key);
  await openStudio(page);
  await expect(page.getByTestId('rank')).toHaveValue('8');
  await expect(page.getByTestId('lr')).toHaveValue('0.04');
  await expect(page.getByTestId('relora-fields')).toHaveCount(0);
  expect(watch.consoleErrors).toEqual([]);
});
