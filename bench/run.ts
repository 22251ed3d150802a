/**
 * `npm run bench`: starts the project's Vite dev server on a free localhost port, opens the bench
 * page (bench/index.html) in headless Chromium with WebGPU, waits for its four sections, prints
 * one table and writes bench/results.json, then stops everything.
 *   --quick     tiny shapes: a smoke run of a couple of minutes on SwiftShader
 *   --profile   adds section 5: each kernel's share of a LoRA step's GPU time (timestamp-query)
 *   --only=a,b  only these sections (matmul, step, adapters, memory, profile)
 * Every `--name` flag reaches the page as `?name=1` (`--name=value` as `?name=value`), where
 * bench/browser/options.ts reads it.
 */
import { writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { QUIET_ARGS, WEBGPU_ARGS } from '../playwright.config';
import type { PageOutcome, PageResult } from './results';
import { benchTable } from './table';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_FILE = join(ROOT, 'bench', 'results.json');
const CHROMIUM = '/usr/bin/chromium';
/** A default run takes ~15 minutes on two SwiftShader cores; this only catches a hung page. */
const PAGE_TIMEOUT_MS = 60 * 60 * 1000;

/** `--quick` → quick=1, `--name=value` → name=value; anything else is refused. */
function pageQuery(argv: readonly string[]): URLSearchParams {
  const query = new URLSearchParams();
  for (const arg of argv) {
    const match = /^--([a-z][a-z-]*)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unexpected argument ${JSON.stringify(arg)} (flags look like --quick)`);
    query.set(match[1]!, match[2] ?? '1');
  }
  return query;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, 'localhost', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The project's dev server (vite.config.ts) without file watching or HMR: other work edits
 * shaders and sources while a long run goes on, and a reload would restart the page. The
 * peers are bundled up front, not discovered mid-run (which also reloads the page).
 */
async function startVite(port: number): Promise<ViteDevServer> {
  const server = await createServer({
    root: ROOT,
    logLevel: 'warn',
    server: { port, strictPort: true, host: 'localhost', hmr: false, watch: null },
    optimizeDeps: { entries: ['bench/index.html'], include: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu', 'onnxruntime-web'] },
  });
  await server.listen();
  return server;
}

function elapsed(t0: number): string {
  return `${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s`;
}

/** Echoes the page's progress lines, warnings (WebGPU validation messages among them) and errors to stderr. */
function followPage(page: Page, t0: number): void {
  page.on('console', (msg) => {
    const text = msg.text();
    if (text.startsWith('[bench]') || msg.type() === 'error' || msg.type() === 'warning') console.error(`${elapsed(t0)} ${text}`);
  });
  page.on('pageerror', (e) => console.error(`${elapsed(t0)} page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) console.error(`${elapsed(t0)} ${r.status()} ${r.url()}`);
  });
}

/** Rejects when the page navigates again after loading: a reload would silently restart the run. */
function reloadGuard(page: Page): Promise<never> {
  return new Promise((_, reject) => {
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) reject(new Error(`the bench page reloaded mid-run (${frame.url()})`));
    });
  });
}

async function runPage(browser: Browser, url: string): Promise<PageResult> {
  const t0 = performance.now();
  const page = await browser.newPage();
  followPage(page, t0);
  await page.goto(url);
  const finished = page.waitForFunction(() => window.__benchResult !== undefined, undefined, { timeout: PAGE_TIMEOUT_MS, polling: 1000 });
  await Promise.race([finished, reloadGuard(page)]);
  const outcome = (await page.evaluate(() => window.__benchResult)) as PageOutcome;
  if (!outcome.ok) throw new Error(`the bench page failed: ${outcome.error}`);
  return outcome.result;
}

function describeMachine(result: PageResult, chromiumVersion: string, date: string): string {
  const a = result.adapterInfo;
  const adapter = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ') || 'unknown adapter';
  const mode = result.options.quick === 'true' ? 'quick' : 'default';
  return `WebGPU adapter: ${adapter}; Chromium ${chromiumVersion}; ${date}; ${mode} sizes; ${result.seconds.toFixed(0)} s`;
}

async function main(): Promise<void> {
  const query = pageQuery(process.argv.slice(2));
  const port = await freePort();
  const vite = await startVite(port);
  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...QUIET_ARGS, ...WEBGPU_ARGS] });
    const chromiumVersion = browser.version();
    const result = await runPage(browser, `http://localhost:${port}/bench/index.html?${query}`);
    const table = benchTable(result);
    const date = new Date().toISOString();
    const machine = describeMachine(result, chromiumVersion, date);
    console.log(`\n${machine}\n`);
    console.log(table.join('\n'));
    console.log(
      '\nratio: matmul ours / faster peer; step ours / TF.js; adapters × frozen fwd + bwd; memory × minimum; profile share of GPU time',
    );
    const { adapterInfo, ...measured } = result;
    const json = { date, chromium: chromiumVersion, adapter: adapterInfo, machine, table, ...measured };
    writeFileSync(RESULTS_FILE, `${JSON.stringify(json, null, 2)}\n`);
    console.error(`wrote ${RESULTS_FILE}`);
  } finally {
    await browser?.close();
    await vite.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
