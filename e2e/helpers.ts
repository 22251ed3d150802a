import { expect, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const SCREENSHOT_DIR = join(import.meta.dirname, '..', 'docs', 'screenshots');

/** Records every request and console error of a page, to assert on at the end. */
export function watchPage(page: Page): { foreignRequests: string[]; consoleErrors: string[] } {
  const foreignRequests: string[] = [];
  const consoleErrors: string[] = [];
  page.on('request', (req) => {
    const url = new URL(req.url());
    const local = ['blob:', 'data:'].includes(url.protocol) || url.hostname === 'localhost' || url.hostname === '127.0.0.1';
    if (!local) foreignRequests.push(req.url());
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  return { foreignRequests, consoleErrors };
}

/** Opens the studio on the small random dev-tiny model (fast on SwiftShader) and waits for WebGPU and the model. */
export async function openStudio(page: Page): Promise<void> {
  await page.goto('/?model=dev-tiny');
  await expect(page.getByTestId('gpu-info')).toContainText('WebGPU');
  await expect(page.getByTestId('model-name')).toHaveText('dev-tiny');
}

export async function uploadDataset(page: Page, name: string, text: string): Promise<void> {
  await page.getByTestId('dataset-input').setInputFiles({ name, mimeType: 'text/plain', buffer: Buffer.from(text) });
}

export async function screenshot(page: Page, name: string, locator?: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  if (locator) await page.getByTestId(locator).screenshot({ path });
  else await page.screenshot({ path, fullPage: false });
}

/** Sets a number input (React listens to input events, so fill is enough). */
export async function setNumber(page: Page, testId: string, value: number): Promise<void> {
  await page.getByTestId(testId).fill(String(value));
}

/** A small, very repetitive corpus the tiny model learns within a few dozen steps. */
export function repetitiveJsonl(rows: number): string {
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) lines.push(JSON.stringify({ prompt: `Q${i % 4}: colour?`, completion: ' blue sky blue sky' }));
  return `${lines.join('\n')}\n`;
}

/** Reads a safetensors header: {name: {dtype, shape, data_offsets}}. */
export function safetensorsHeader(bytes: Buffer): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  delete header.__metadata__;
  return header as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
}
