import { expect, type Page, test, type Worker } from '@playwright/test';
import { setNumber, watchPage } from './helpers';

/**
 * The built app sends nothing it was not asked to: its Content-Security-Policy (vite.config.ts)
 * allows only its own origin, in the page (meta tag of the built index.html, and the header
 * `vite preview` sends) and in the worker (the header on its script); a full flow on the default
 * model (load it, pick a sample dataset, train a few steps, generate) reports no violation and
 * makes no request to any other origin; and a request to another origin is blocked, in the page
 * and in the worker.
 */

declare global {
  interface Window {
    __cspViolations: string[];
  }
}

/** Collects the page's CSP violation reports from before its first script runs. */
async function recordViolations(page: Page): Promise<void> {
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__cspViolations.push(`${e.effectiveDirective} ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`),
    );
  });
}

/** The first violation a fetch to another origin raises in a global scope (document or worker), or 'none'. */
const probeForeignFetch = async (): Promise<string> => {
  const target: EventTarget = typeof document === 'undefined' ? self : document;
  const seen = new Promise<string>((resolve) =>
    target.addEventListener('securitypolicyviolation', (e) => resolve((e as SecurityPolicyViolationEvent).effectiveDirective), {
      once: true,
    }),
  );
  await fetch('https://example.com/csp-probe').catch(() => undefined);
  return Promise.race([seen, new Promise<string>((resolve) => setTimeout(() => resolve('none'), 3000))]);
};

test('the built app allows only its own origin: a full flow has no CSP violation and no foreign request', async ({ page }) => {
  // Nothing may leave this machine even if the policy were missing: foreign requests are aborted (and recorded).
  await page.context().route(
    (url) => !['localhost', '127.0.0.1'].includes(url.hostname) && !['blob:', 'data:'].includes(url.protocol),
    (route) => route.abort(),
  );
  const watch = watchPage(page);
  await recordViolations(page);
  const response = await page.goto('/');
  const header = (await response!.allHeaders())['content-security-policy'] ?? '';
  const meta = (await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content')) ?? '';
  for (const policy of [header, meta]) {
    expect(policy).toContain("default-src 'self'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    expect(policy).toContain("object-src 'none'");
    expect(policy).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
  }
  expect(header).toContain("frame-ancestors 'none'"); // a header-only directive: the meta tag leaves it out

  await expect(page.getByTestId('gpu-info')).toContainText('WebGPU');
  await expect(page.getByTestId('model-name')).toHaveText('kjv-tiny', { timeout: 60_000 });
  await page.getByTestId('sample-dataset').selectOption('pirate-instructions.jsonl'); // fetched from the same origin
  await expect(page.getByTestId('dataset-examples')).toHaveText('120');
  await setNumber(page, 'seq-len', 32);
  await setNumber(page, 'batch-size', 2);
  await setNumber(page, 'steps', 3);
  await setNumber(page, 'warmup-steps', 0);
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-status')).toHaveAttribute('data-status', 'finished', { timeout: 180_000 });

  await page.getByTestId('prompt').fill('Say hello');
  await setNumber(page, 'max-tokens', 4);
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('output-adapted')).toHaveAttribute('data-done', 'true', { timeout: 120_000 });

  expect(await page.evaluate(() => window.__cspViolations)).toEqual([]);
  expect(watch.consoleErrors).toEqual([]);
  expect(watch.foreignRequests).toEqual([]);

  // The policy is in force where the app's code runs: a fetch to another origin is refused by connect-src, in the page and in the worker.
  expect(await page.evaluate(probeForeignFetch)).toBe('connect-src');
  const worker: Worker | undefined = page.workers().find((w) => w.url().includes('studio-worker'));
  expect(
    worker,
    page
      .workers()
      .map((w) => w.url())
      .join(', '),
  ).toBeDefined();
  expect(await worker!.evaluate(probeForeignFetch)).toBe('connect-src');
  expect(watch.foreignRequests).toEqual([]); // blocked before any request was made
});
