import { zipSync } from 'fflate';
import type { ModelTextFile } from '../worker/protocol';

export type DownloadKind = 'zip' | 'adapter-weights' | 'adapter-config' | 'merged' | 'merged-zip' | 'merged-config';

/** Downloads made from the merged model (export-merged) rather than the adapter. */
export const isMergedKind = (kind: DownloadKind) => kind === 'merged' || kind === 'merged-zip' || kind === 'merged-config';

export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';

/** A download built completely in memory, ready to offer. */
export interface PreparedDownload {
  readonly bytes: Uint8Array;
  readonly fileName: string;
  readonly mime: string;
}

/**
 * A .zip without ZIP64 (fflate writes none) stores sizes and offsets in 32 bits: a larger file
 * would be written truncated, a corrupt archive that only fails when opened. Refused instead.
 */
const ZIP_LIMIT = 0xffff_ffff;

function zipped(files: Readonly<Record<string, Uint8Array>>, fileName: string): PreparedDownload {
  const sizes = Object.entries(files);
  const total = sizes.reduce((n, [, b]) => n + b.length, 0);
  const big = sizes.find(([, b]) => b.length >= ZIP_LIMIT);
  if (big || total >= ZIP_LIMIT) {
    const what = big ? `${big[0]} is ${gib(big[1].length)}` : `the files are ${gib(total)} in all`;
    throw new Error(`${what}, more than a .zip holds (4 GiB); download the files one by one instead`);
  }
  return { bytes: zipSync(files), fileName, mime: 'application/zip' };
}

const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;

/**
 * The file for an export as the user asked: both adapter files zipped, one of them, or the merged
 * model: one file, or zipped as a Hugging Face folder that loads as it is (config.json,
 * model.safetensors and the tokenizer and generation files the model came with). Throws when it
 * cannot be built; nothing is offered before it is complete.
 */
export function prepareDownload(
  kind: DownloadKind,
  weights: Uint8Array,
  configJson: string,
  extraFiles: readonly ModelTextFile[] = [],
): PreparedDownload {
  const encoder = new TextEncoder();
  const config = encoder.encode(configJson);
  switch (kind) {
    case 'zip':
      return zipped({ [ADAPTER_WEIGHTS_FILE]: weights, [ADAPTER_CONFIG_FILE]: config }, 'adapter.zip');
    case 'adapter-weights':
      return { bytes: weights, fileName: ADAPTER_WEIGHTS_FILE, mime: 'application/octet-stream' };
    case 'adapter-config':
      return { bytes: config, fileName: ADAPTER_CONFIG_FILE, mime: 'application/json' };
    case 'merged':
      return { bytes: weights, fileName: 'model.safetensors', mime: 'application/octet-stream' };
    case 'merged-zip': {
      const folder: Record<string, Uint8Array> = { 'model.safetensors': weights, 'config.json': config };
      for (const f of extraFiles) folder[f.name] = encoder.encode(f.text);
      return zipped(folder, 'model.zip');
    }
    case 'merged-config':
      return { bytes: config, fileName: 'config.json', mime: 'application/json' };
  }
}

/**
 * Saves an export, complete or not at all: the file is built fully in memory first (prepareDownload)
 * and only then offered, as one Blob. When it cannot be built or offered nothing is offered and the
 * reason is returned, for the page to show (null: offered).
 */
export function downloadExport(
  kind: DownloadKind,
  weights: Uint8Array,
  configJson: string,
  extraFiles: readonly ModelTextFile[] = [],
): string | null {
  try {
    saveBytes(prepareDownload(kind, weights, configJson, extraFiles));
    return null;
  } catch (e) {
    const message = `the download could not be prepared, so nothing was saved: ${(e as Error).message}`;
    console.error(message);
    return message;
  }
}

function saveBytes({ bytes, fileName, mime }: PreparedDownload): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mime }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
