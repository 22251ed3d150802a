import { expect, test, type Page, type Worker } from '@playwright/test';
import { openStudio, repetitiveJsonl, screenshot, setNumber, uploadDataset, watchPage } from './helpers';

/** The studio's Web Worker, to send it requests the page's own controls no longer send (defence in depth). */
async function studioWorker(page: Page): Promise<Worker> {
  await expect.poll(() => page.workers().some((w) => w.url().includes('studio-worker'))).toBe(true);
  return page.workers().find((w) => w.url().includes('studio-worker'))!;
}

/** Hands the worker one request as if the page had posted it. */
async function postToWorker(worker: Worker, request: unknown): Promise<void> {
  await worker.evaluate((data) => {
    self.dispatchEvent(new MessageEvent('message', { data }));
  }, request);
}

/** Dispatches a cancelable beforeunload and says whether the page asked to stay. */
function warnsBeforeUnload(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const e = new Event('beforeunload', { cancelable: true });
    window.dispatchEvent(e);
    return e.defaultPrevented;
  });
}

/** A drop of one small file on a drop zone (the page's own DataTransfer: DropZone takes its files). */
async function dropFile(page: Page, testId: string, name: string, text: string): Promise<void> {
  const dataTransfer = await page.evaluateHandle(
    ([n, t]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([t], n));
      return dt;
    },
    [name, text] as const,
  );
  await page.getByTestId(testId).dispatchEvent('dragover', { dataTransfer });
  await page.getByTestId(testId).dispatchEvent('drop', { dataTransfer });
}

test('during a run the model and the dataset are locked (page and worker), leaving warns, and a new model asks before discarding the adapter', async ({
  page,
}) => {
  const watch = watchPage(page);
  await openStudio(page);
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(20));
  await expect(page.getByTestId('dataset-examples')).toHaveText('20');
  expect(await warnsBeforeUnload(page)).toBe(false);

  await setNumber(page, 'steps', 400);
  await page.getByTestId('train-start').click();
  const status = page.getByTestId('train-status');
  await expect.poll(async () => Number(await status.getAttribute('data-step')), { timeout: 60_000 }).toBeGreaterThanOrEqual(1);

  // Every way to change the model or the dataset is off, and says why.
  const model = page.getByTestId('model-panel');
  const bundled = model.getByRole('button', { name: 'Use bundled model' });
  const dataset = page.getByTestId('dataset-panel');
  await expect(bundled).toBeDisabled();
  await expect(page.getByTestId('model-folder-input')).toBeDisabled();
  await expect(page.getByTestId('model-files-input')).toBeDisabled();
  await expect(page.getByTestId('dataset-input')).toBeDisabled();
  await expect(page.getByTestId('sample-dataset')).toBeDisabled();
  await expect(page.getByTestId('model-locked')).toHaveText(/stop the run to change the model/);
  await expect(page.getByTestId('dataset-locked')).toHaveText(/stop the run to change the dataset/);
  await model.scrollIntoViewIfNeeded();
  await screenshot(page, '18-run-locks-model', 'model-panel');
  await screenshot(page, '18-run-locks-dataset', 'dataset-panel');

  // A drop is ignored too.
  await dropFile(page, 'dataset-drop', 'other.txt', 'a different dataset\n'.repeat(30));
  await dropFile(page, 'model-drop', 'config.json', '{}');
  await page.waitForTimeout(1_000);
  await expect(page.getByTestId('dataset-summary')).toContainText('train.jsonl');
  await expect(page.getByTestId('dataset-examples')).toHaveText('20');
  await expect(model).not.toContainText('Loading');
  await expect(model.getByRole('alert')).toHaveCount(0);

  // The worker refuses a model or dataset change during a run, with a clear error.
  const worker = await studioWorker(page);
  await postToWorker(worker, {
    type: 'load-dataset',
    fileName: 'other.txt',
    text: 'a different dataset\n'.repeat(30),
    csvColumn: null,
    seqLen: 32,
    valFraction: 0.1,
    seed: 1,
    options: { truncation: 'right', chatTemplate: 'model' },
  });
  await expect(dataset.getByRole('alert')).toContainText('stop the run to change the dataset');
  await expect(page.getByTestId('dataset-examples')).toHaveText('20');
  await postToWorker(worker, { type: 'load-model', source: { kind: 'bundled', name: 'kjv-tiny', baseUrl: '/models/kjv-tiny' } });
  await expect(model.getByRole('alert')).toContainText('stop the run to change the model');
  await expect(page.getByTestId('model-name')).toHaveText('dev-tiny');
  await expect(status).toHaveAttribute('data-status', 'running');

  // Leaving the page asks first while the run is on.
  expect(await warnsBeforeUnload(page)).toBe(true);
  const leaving = page.waitForEvent('dialog');
  void page.close({ runBeforeUnload: true });
  const beforeUnload = await leaving;
  expect(beforeUnload.type()).toBe('beforeunload');
  await beforeUnload.dismiss();
  expect(page.isClosed()).toBe(false);

  // Paused, the run still holds the worker's GPU queue: generating or downloading would only wait
  // for the run to end, so those are off too, and the model stays locked.
  await page.getByTestId('train-pause').click();
  await expect(status).toHaveAttribute('data-status', 'paused');
  await expect(page.getByTestId('generate')).toBeDisabled();
  await expect(page.getByTestId('download-zip')).toBeDisabled();
  await expect(bundled).toBeDisabled();
  expect(await warnsBeforeUnload(page)).toBe(true);

  await page.getByTestId('train-stop').click();
  await expect(status).toHaveAttribute('data-status', 'finished');
  // The worker's "stop the run" errors are over with the run.
  await expect(model.getByRole('alert')).toHaveCount(0);
  await expect(dataset.getByRole('alert')).toHaveCount(0);
  await expect(bundled).toBeEnabled();
  await expect(page.getByTestId('dataset-input')).toBeEnabled();
  // A trained adapter not yet downloaded: leaving still warns.
  expect(await warnsBeforeUnload(page)).toBe(true);

  // Another model would discard the adapter: the page asks, and cancelling keeps everything.
  let question = '';
  page.once('dialog', (d) => {
    question = `${d.type()}: ${d.message()}`;
    void d.dismiss();
  });
  await bundled.click();
  await expect.poll(() => question).toMatch(/^confirm: .*discard.*download/is);
  await page.waitForTimeout(500);
  await expect(page.getByTestId('download-zip')).toBeEnabled();
  const download = page.waitForEvent('download');
  await page.getByTestId('download-zip').click();
  expect((await download).suggestedFilename()).toBe('adapter.zip');
  // Downloaded: nothing would be lost by leaving.
  expect(await warnsBeforeUnload(page)).toBe(false);

  // Confirming loads the model; the export buttons follow what the worker now holds (nothing).
  page.once('dialog', (d) => void d.accept());
  await bundled.click();
  await expect(page.getByTestId('download-zip')).toBeDisabled();
  await expect(page.getByTestId('train-message')).toContainText('discarded');
  await expect(page.getByTestId('model-name')).toHaveText('dev-tiny');
  expect(watch.foreignRequests).toEqual([]);
  expect(watch.consoleErrors).toEqual([]);
});

test('a new run clears the last outputs, status line and stale errors; the adapted side names its method', async ({ page }) => {
  const watch = watchPage(page);
  await openStudio(page);
  await uploadDataset(page, 'train.jsonl', repetitiveJsonl(20));
  await expect(page.getByTestId('dataset-examples')).toHaveText('20');
  const status = page.getByTestId('train-status');
  const adapted = page.getByTestId('output-adapted');

  // Run 1: LoRA, 4 steps, then generate.
  await setNumber(page, 'steps', 4);
  await page.getByTestId('train-start').click();
  await expect(status).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
  await expect(status).toHaveAttribute('data-step', '4');
  await page.getByTestId('prompt').fill('Q1: colour?');
  await page.getByTestId('use-chat-template').uncheck();
  await setNumber(page, 'max-tokens', 6);
  await page.getByTestId('generate').click();
  await expect(adapted).toHaveAttribute('data-done', 'true', { timeout: 60_000 });
  await expect(adapted.locator('h3')).toContainText('With LoRA adapter');
  expect(Number(await adapted.getAttribute('data-tokens'))).toBeGreaterThan(0);

  // Run 2: DoRA. While it starts, the status line shows nothing of run 1 and the outputs are gone.
  await page.getByTestId('method-dora').check();
  await setNumber(page, 'steps', 12);
  const starting = await page.evaluate(async () => {
    const q = (id: string) => document.querySelector<HTMLElement>(`[data-testid="${id}"]`);
    q('train-start')!.click();
    for (let i = 0; i < 200 && q('train-status')!.dataset.status !== 'starting'; i++) await new Promise(requestAnimationFrame);
    const s = q('train-status')!;
    return {
      status: s.dataset.status,
      step: s.dataset.step,
      lastLoss: q('last-loss')?.textContent ?? null,
      adaptedTokens: q('output-adapted')!.dataset.tokens,
      adaptedText: q('output-adapted-text')!.textContent,
      baseText: q('output-base-text')!.textContent,
    };
  });
  expect(starting).toEqual({ status: 'starting', step: '0', lastLoss: null, adaptedTokens: '0', adaptedText: '', baseText: '' });
  await expect(adapted.locator('h3')).not.toContainText('LoRA adapter');
  await expect(status).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });

  await page.getByTestId('generate').click();
  await expect(adapted).toHaveAttribute('data-done', 'true', { timeout: 60_000 });
  await expect(adapted.locator('h3')).toContainText('With DoRA adapter');
  await page.getByTestId('generate-panel').scrollIntoViewIfNeeded();
  await screenshot(page, '18-adapted-names-method', 'generate-panel');

  // An error from before a new run does not stay beside it.
  await page.getByTestId('prompt').fill('');
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('generate-panel').getByRole('alert')).toContainText('the prompt is empty');
  await setNumber(page, 'steps', 3);
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('generate-panel').getByRole('alert')).toHaveCount(0);
  await expect(status).toHaveAttribute('data-status', 'finished', { timeout: 120_000 });
  expect(watch.foreignRequests).toEqual([]);
  expect(watch.consoleErrors).toEqual([]);
});
