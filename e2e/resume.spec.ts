import { expect, test, type Page } from '@playwright/test';
import { repetitiveJsonl, screenshot, setNumber, uploadDataset, watchPage } from './helpers';

const STEPS = 30;
const EVERY = 5;

/** The studio on dev-tiny with the test hooks (window.__studio: full-precision losses, a lost device). */
async function openStudio(page: Page): Promise<void> {
  await page.goto('/?model=dev-tiny&testHooks');
  await expect(page.getByTestId('gpu-info')).toContainText('WebGPU');
  await expect(page.getByTestId('model-name')).toHaveText('dev-tiny');
}

/** Hands the studio's worker a request as if the page had posted it (the page's own button is off). */
async function postToWorker(page: Page, request: unknown): Promise<void> {
  await expect.poll(() => page.workers().some((w) => w.url().includes('studio-worker'))).toBe(true);
  const worker = page.workers().find((w) => w.url().includes('studio-worker'))!;
  await worker.evaluate((data) => self.dispatchEvent(new MessageEvent('message', { data })), request);
}

const status = (page: Page) => page.getByTestId('train-status');
const losses = (page: Page) => page.evaluate(() => (window as unknown as { __studio: { losses(): number[] } }).__studio.losses());

async function untilFinished(page: Page): Promise<void> {
  await expect(status(page)).toHaveAttribute('data-status', 'finished', { timeout: 300_000 });
}

/** Waits for the running run's checkpoint of at least `step`. */
async function untilSavedAt(page: Page, step: number): Promise<void> {
  await expect
    .poll(async () => Number(await page.getByTestId('last-checkpoint').textContent()), { timeout: 120_000 })
    .toBeGreaterThanOrEqual(step);
}

/** What the user set is still set: the run's settings and the checkpoint interval. */
async function expectSettingsKept(page: Page): Promise<void> {
  await expect(page.getByTestId('steps')).toHaveValue(String(STEPS));
  await expect(page.getByTestId('checkpoint-every')).toHaveValue(String(EVERY));
  await expect(page.getByTestId('dropout')).toHaveValue('0.1');
  await expect(page.getByTestId('lr')).toHaveValue('0.02');
}

test('a run survives a reload and a lost GPU device: resumed from its checkpoint, it has the losses of the run that was never interrupted', async ({
  page,
}) => {
  test.setTimeout(900_000);
  const watch = watchPage(page);
  // Leaving mid-run asks first ("leave site?"): this test does mean to leave.
  page.on('dialog', (d) => void d.accept());
  await openStudio(page);
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(40));
  await expect(page.getByTestId('dataset-examples')).toHaveText('40');
  await setNumber(page, 'steps', STEPS);
  await setNumber(page, 'checkpoint-every', EVERY);
  // Dropout makes every step depend on the RNG as well.
  await setNumber(page, 'dropout', 0.1);
  await setNumber(page, 'lr', 0.02);

  // The run nobody interrupts.
  await page.getByTestId('train-start').click();
  await untilFinished(page);
  const whole = await losses(page);
  expect(whole).toHaveLength(STEPS);
  await expect(page.getByTestId('last-checkpoint')).toHaveText(String(STEPS));

  // The same run again, reloaded in the middle.
  await page.getByTestId('train-start').click();
  await untilSavedAt(page, 2 * EVERY);
  await page.reload();
  await expect(page.getByTestId('model-name')).toHaveText('dev-tiny');
  const offer = page.getByTestId('resume-offer');
  await expect(offer).toBeVisible();
  const savedAt = Number(await offer.getAttribute('data-step'));
  expect(savedAt % EVERY).toBe(0);
  expect(savedAt).toBeGreaterThanOrEqual(2 * EVERY);
  expect(savedAt).toBeLessThan(STEPS);
  await expect(page.getByTestId('resume-run')).toHaveText(`Resume run from step ${savedAt}`);
  await expect(page.getByTestId('resume-needs')).toContainText('dataset train.jsonl (kept with the checkpoint)');
  await expectSettingsKept(page);
  await screenshot(page, '25-resume-banner', 'resume-banner');

  // The dataset comes back from the checkpoint; the chart starts with the saved steps.
  await page.getByTestId('resume-run').click();
  await expect(page.getByTestId('dataset-examples')).toHaveText('40');
  await expect(offer).toHaveCount(0);
  await untilFinished(page);
  expect(await losses(page)).toEqual(whole);
  await expect(page.getByTestId('train-message')).toHaveText(`Finished ${STEPS} steps.`);

  // A lost device mid-step: the run stops and says so, and nothing else is lost.
  await page.getByTestId('train-start').click();
  await untilSavedAt(page, EVERY);
  await page.evaluate(() => (window as unknown as { __studio: { loseDevice(): void } }).__studio.loseDevice());
  await expect(page.getByTestId('device-lost-message')).toContainText('The GPU device was lost during step');
  await expect(page.getByTestId('device-lost-message')).toContainText('The studio has a new GPU device');
  await expect(status(page)).toHaveAttribute('data-status', 'error');
  await expect(page.getByTestId('resume-offer')).toBeVisible();
  const lostAt = Number(await page.getByTestId('resume-offer').getAttribute('data-step'));
  expect(lostAt).toBeGreaterThanOrEqual(EVERY);
  expect(lostAt).toBeLessThan(STEPS);
  await expect(page.getByTestId('gpu-info')).toContainText('WebGPU');
  await expect(page.getByTestId('dataset-examples')).toHaveText('40');
  await expectSettingsKept(page);
  await screenshot(page, '26-device-lost', 'resume-banner');
  await screenshot(page, '26-device-lost-train-panel', 'train-panel');

  // Resumed on the new device: the same losses again.
  await page.getByTestId('resume-run').click();
  await expect(page.getByTestId('device-lost-message')).toHaveCount(0);
  await untilFinished(page);
  expect(await losses(page)).toEqual(whole);

  expect(watch.foreignRequests).toEqual([]);
  expect(watch.consoleErrors).toEqual([]);
});

test('a checkpoint of another model is refused with a clear message; discarding it removes the offer', async ({ page }) => {
  page.on('dialog', (d) => void d.accept());
  await openStudio(page);
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(20));
  await setNumber(page, 'steps', 12);
  await setNumber(page, 'checkpoint-every', 2);
  await page.getByTestId('train-start').click();
  await untilSavedAt(page, 2);
  await page.getByTestId('train-stop').click();
  await expect(status(page)).toHaveAttribute('data-status', 'finished');

  // Opened on kjv-tiny: the offer names the model it needs, and the worker refuses another.
  await page.goto('/?testHooks');
  await expect(page.getByTestId('model-name')).toHaveText('kjv-tiny', { timeout: 60_000 });
  await expect(page.getByTestId('resume-needs')).toContainText('model dev-tiny (load it first)');
  await expect(page.getByTestId('resume-run')).toBeDisabled();
  // The worker checks too (fingerprints, not names): asked anyway, it refuses.
  await postToWorker(page, { type: 'resume-checkpoint', checkpointEvery: 2 });
  await expect(page.getByTestId('resume-error')).toContainText('the run trained on the model dev-tiny and the loaded model is kjv-tiny');
  await expect(status(page)).toHaveAttribute('data-status', 'idle');

  await page.getByTestId('discard-checkpoint').click();
  await expect(page.getByTestId('resume-banner')).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('model-name')).toHaveText('kjv-tiny', { timeout: 60_000 });
  await page.waitForTimeout(1_000);
  await expect(page.getByTestId('resume-banner')).toHaveCount(0);
});
