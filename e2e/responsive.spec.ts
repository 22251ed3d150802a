import { expect, test } from '@playwright/test';
import { openStudio, repetitiveJsonl, setNumber, uploadDataset, watchPage } from './helpers';

test('pause takes effect once the queued steps finish, the page stays responsive, resume and stop work', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(20));
  await page.getByTestId('method-vera').check();
  await setNumber(page, 'rank', 8);
  await setNumber(page, 'steps', 400);
  await setNumber(page, 'eval-every', 2);
  await expect(page.getByTestId('trainable-count')).toContainText('VeRA: ');
  await page.getByTestId('train-start').click();
  const status = page.getByTestId('train-status');
  await expect.poll(async () => Number(await status.getAttribute('data-step')), { timeout: 60_000 }).toBeGreaterThanOrEqual(3);

  // The main thread is free while the worker trains: typing goes through at once.
  const typed = Date.now();
  await page.getByTestId('prompt').fill('still responsive');
  expect(Date.now() - typed).toBeLessThan(2_000);

  // Read the step and click in one task of the page, so Playwright's own click latency (actionability
  // checks, during which the worker may finish another step) does not count against the app.
  const stepAtClick = await page.evaluate(() => {
    const step = Number(document.querySelector<HTMLElement>('[data-testid="train-status"]')!.dataset.step);
    document.querySelector<HTMLButtonElement>('[data-testid="train-pause"]')!.click();
    return step;
  });
  await expect(status).toHaveAttribute('data-status', 'paused');
  const stepWhenPaused = Number(await status.getAttribute('data-step'));
  // The worker keeps the next step queued while it reads a loss back (TrainingRun), so when the
  // page shows step n, step n + 1 is running and n + 2 may already be submitted: those finish,
  // nothing after them starts.
  expect(stepWhenPaused - stepAtClick).toBeLessThanOrEqual(2);
  await page.waitForTimeout(1_500);
  expect(Number(await status.getAttribute('data-step'))).toBe(stepWhenPaused);

  await page.getByTestId('update-open').click();
  await expect(page.getByTestId('vera-lambda-b')).toBeVisible();
  await expect(page.getByTestId('vera-lambda-d')).toBeVisible();

  await page.getByTestId('train-resume').click();
  await expect.poll(async () => Number(await status.getAttribute('data-step'))).toBeGreaterThan(stepWhenPaused);
  await page.getByTestId('train-stop').click();
  await expect(status).toHaveAttribute('data-status', 'finished');
  await expect(page.getByTestId('train-message')).toContainText('Stopped after step');
  expect(watch.consoleErrors).toEqual([]);
});
