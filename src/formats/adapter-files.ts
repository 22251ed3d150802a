/**
 * Picked adapter files told apart by their content, not their names: a browser saves a repeated
 * download as "adapter_config (1).json", and the studio's own export is adapter.zip. A zip is
 * opened and its entries looked at the same way.
 */
import { unzipSync } from 'fflate';

export interface PickedBytes {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface AdapterFiles {
  readonly configText: string;
  readonly configName: string;
  readonly weights: Uint8Array;
  readonly weightsName: string;
}

const isZip = (b: Uint8Array) => b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/** A safetensors file starts with its header's length (u64 LE) and then the JSON header itself. */
export function looksLikeSafetensors(b: Uint8Array): boolean {
  if (b.length < 10) return false;
  const n = new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(b.length - 8) && b[8] === 0x7b; // '{'
}

/** The text of a JSON object with a "peft_type" (PEFT's adapter_config.json), or null. */
export function adapterConfigText(b: Uint8Array): string | null {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(b);
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) && 'peft_type' in value ? text : null;
  } catch {
    return null;
  }
}

/** The config and weights among the files (zips opened), or what is missing or ambiguous. */
export function findAdapterFiles(files: readonly PickedBytes[]): AdapterFiles | string {
  const entries: PickedBytes[] = [];
  for (const f of files) {
    if (!isZip(f.bytes)) {
      entries.push(f);
      continue;
    }
    let unzipped: Record<string, Uint8Array>;
    try {
      unzipped = unzipSync(f.bytes);
    } catch (e) {
      return `${f.name}: not a readable zip (${(e as Error).message})`;
    }
    for (const [path, bytes] of Object.entries(unzipped)) if (!path.endsWith('/')) entries.push({ name: `${f.name}/${path}`, bytes });
  }
  const configs: { name: string; text: string }[] = [];
  const weights: PickedBytes[] = [];
  for (const e of entries) {
    if (looksLikeSafetensors(e.bytes)) {
      weights.push(e);
      continue;
    }
    const text = adapterConfigText(e.bytes);
    if (text !== null) configs.push({ name: e.name, text });
  }
  const names = (l: readonly { name: string }[]) => l.map((x) => x.name).join(', ');
  if (configs.length > 1) return `more than one adapter config (${names(configs)}): pick one adapter's files`;
  if (weights.length > 1) return `more than one safetensors file (${names(weights)}): pick one adapter's files`;
  const config = configs[0];
  const weight = weights[0];
  if (!config && !weight)
    return 'neither an adapter config (JSON with "peft_type", as adapter_config.json) nor adapter weights (.safetensors) among the files: pick both, or the adapter .zip';
  if (!config) return `no adapter config among the files (a JSON file with "peft_type", as adapter_config.json) to go with ${weight!.name}`;
  if (!weight) return `no adapter weights among the files (a .safetensors file, as adapter_model.safetensors) to go with ${config.name}`;
  return { configText: config.text, configName: config.name, weights: weight.bytes, weightsName: weight.name };
}
