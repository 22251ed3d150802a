import { zipSync } from 'fflate';
import type { ModelTextFile } from '../worker/protocol';

export type DownloadKind = 'zip' | 'adapter-weights' | 'adapter-config' | 'merged' | 'merged-zip' | 'merged-config';

/** Downloads made from the merged model (export-merged) rather than the adapter. */
export const isMergedKind = (kind: DownloadKind) => kind === 'merged' || kind === 'merged-zip' || kind === 'merged-config';

export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';

/**
 * Saves an export as the user asked: both adapter files zipped, one of them, or the merged model:
 * one file, or zipped as a Hugging Face folder that loads as it is (config.json, model.safetensors
 * and the tokenizer and generation files the model came with).
 */
export function downloadExport(
  kind: DownloadKind,
  weights: Uint8Array,
  configJson: string,
  extraFiles: readonly ModelTextFile[] = [],
): void {
  const encoder = new TextEncoder();
  const config = encoder.encode(configJson);
  switch (kind) {
    case 'zip':
      return saveBytes(zipSync({ [ADAPTER_WEIGHTS_FILE]: weights, [ADAPTER_CONFIG_FILE]: config }), 'adapter.zip', 'application/zip');
    case 'adapter-weights':
      return saveBytes(weights, ADAPTER_WEIGHTS_FILE, 'application/octet-stream');
    case 'adapter-config':
      return saveBytes(config, ADAPTER_CONFIG_FILE, 'application/json');
    case 'merged':
      return saveBytes(weights, 'model.safetensors', 'application/octet-stream');
    case 'merged-zip': {
      const folder: Record<string, Uint8Array> = { 'model.safetensors': weights, 'config.json': config };
      for (const f of extraFiles) folder[f.name] = encoder.encode(f.text);
      return saveBytes(zipSync(folder), 'model.zip', 'application/zip');
    }
    case 'merged-config':
      return saveBytes(config, 'config.json', 'application/json');
  }
}

function saveBytes(bytes: Uint8Array, fileName: string, mime: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mime }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
