// Shared helpers for the format tests: where the golden fixtures live, and hand-built safetensors bytes.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { FormatError } from '../../src/formats/errors';

export const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures', import.meta.url));
export const HAVE_FIXTURES = existsSync(join(FIXTURES, 'README.md'));

/** Every fixture case folder (llama-lora-qv, gpt2-full, ...). */
export const CASES: string[] = HAVE_FIXTURES
  ? readdirSync(FIXTURES, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort()
  : [];
export const ADAPTER_CASES = CASES.filter((c) => existsSync(join(FIXTURES, c, 'adapter')));

export function fixturePath(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}
export function fixtureText(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), 'utf8');
}
export function fixtureBytes(...parts: string[]): Uint8Array {
  return new Uint8Array(readFileSync(fixturePath(...parts)));
}

/** Safetensors bytes with an arbitrary header (object or raw text), for malformed-input tests. */
export function rawSafetensors(header: unknown, data: Uint8Array = new Uint8Array(0), headerLen?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen ?? json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Asserts that fn throws a FormatError whose message names `file` and contains `fragment`. */
export function expectFormatError(fn: () => unknown, file: string, fragment: string | RegExp): FormatError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a FormatError to be thrown').toBeInstanceOf(FormatError);
  const err = caught as FormatError;
  expect(err.file).toBe(file);
  expect(err.message.startsWith(`${file}: `)).toBe(true);
  if (typeof fragment === 'string') expect(err.message).toContain(fragment);
  else expect(err.message).toMatch(fragment);
  return err;
}

export async function expectFormatErrorAsync(p: Promise<unknown>, file: string, fragment: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FormatError);
  expect((err as FormatError).file).toBe(file);
  expect((err as FormatError).message).toContain(fragment);
}
