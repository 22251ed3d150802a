/** The model the studio opens: the bundled one (fetched) or files picked or dropped, through the one model-folder loader. */
import { blobSource, loadModelFolder, type TextModelFolder } from '../formats/model-folder';
import type { Transformer } from '../model/transformer';
import { modelFingerprint } from '../train/fingerprint';
import type { ModelSource } from './protocol';

export interface OpenedModel {
  /** What the page shows. */
  readonly name: string;
  /** What an exported adapter_config.json names as its base model: null for loose files whose config.json does not say. */
  readonly baseModelId: string | null;
  readonly folder: TextModelFolder;
  /** Of its config and weights: a checkpoint resumes only on the model it was trained on. */
  readonly fingerprint: string;
}

/** Loads the folder with its tokenizer and names it (loose files by config.json's `_name_or_path`). */
export async function openModel(source: ModelSource): Promise<OpenedModel> {
  const folder = await loadModelFolder(blobSource(await blobsOf(source), source.name), { tokenizer: true });
  const loose = source.kind === 'files' && source.name === LOOSE_FILES;
  const baseModelId = loose ? savedName(folder.config.raw) : source.name;
  return { name: baseModelId ?? source.name, baseModelId, folder, fingerprint: modelFingerprint(folder.configJson, folder.weights) };
}

/** The architecture the page names: config.json's first `architectures` entry, else the family. */
export function architectureOf(folder: TextModelFolder): string {
  return String((folder.config.raw.architectures as string[] | undefined)?.[0] ?? folder.config.arch);
}

/** What the page calls files picked or dropped without their folder. */
const LOOSE_FILES = 'local model';

/** The last part of config.json's `_name_or_path` (what save_pretrained was loaded from), if any. */
function savedName(raw: Record<string, unknown>): string | null {
  const v = raw._name_or_path;
  if (typeof v !== 'string') return null;
  const last = v
    .replace(/[\\/]+$/, '')
    .split(/[\\/]/)
    .pop();
  return last ? last : null;
}

const BUNDLED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];

async function blobsOf(source: ModelSource): Promise<Map<string, Blob>> {
  if (source.kind === 'files') return new Map(source.files.map((f) => [f.name, f.blob]));
  const out = new Map<string, Blob>();
  for (const name of BUNDLED_FILES) {
    const res = await fetch(`${source.baseUrl}/${name}`);
    if (res.ok) out.set(name, await res.blob());
  }
  return out;
}

/** The opened model with its weights on the GPU. */
export interface LoadedModel extends OpenedModel {
  readonly transformer: Transformer;
}
