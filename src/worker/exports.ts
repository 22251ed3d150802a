/** What the studio downloads and imports: a PEFT adapter, the merged model as a Hugging Face folder, and an adapter brought in. */
import { loadAdapter, trainableCount } from '../adapters/load';
import type { Adapter } from '../adapters/types';
import { float32ConfigJson, mergedTensors } from '../formats/merged-folder';
import type { TextModelFolder } from '../formats/model-folder';
import { adapterConfigJson, parseAdapterConfig } from '../formats/peft';
import { parseSafetensors, writeSafetensors } from '../formats/safetensors';
import type { GpuRuntime } from '../gpu/runtime';
import type { Transformer } from '../model/transformer';
import type { ReloraResult } from './held';
import type { TrainSettings } from './protocol';

export interface AdapterFiles {
  readonly weights: Uint8Array;
  readonly configJson: string;
}

export interface MergedFiles extends AdapterFiles {
  readonly extraFiles: TextModelFolder['textFiles'];
}

/** adapter_model.safetensors and adapter_config.json, in PEFT's layout. */
export async function adapterFiles(rt: GpuRuntime, adapter: Adapter, baseModelId: string | null): Promise<AdapterFiles> {
  const weights = writeSafetensors(await adapter.exportTensors(rt), { format: 'pt' });
  return { weights, configJson: adapterConfigJson(adapter.spec, baseModelId) };
}

/**
 * The merged model as a complete HF folder: a ReLoRA run's own weights, or the loaded weights with
 * W + ΔW in every layer the adapter adapts; config.json in float32 and the tokenizer files.
 */
export async function mergedFiles(
  rt: GpuRuntime,
  folder: TextModelFolder,
  from: { relora: ReloraResult } | { adapter: Adapter },
): Promise<MergedFiles> {
  let weights: Uint8Array;
  if ('relora' in from) {
    weights = writeSafetensors(
      [...from.relora.weights].map(([name, w]) => ({ name, shape: w.shape, data: w.data })),
      { format: 'pt' },
    );
  } else {
    const deltas = new Map<string, Float32Array>();
    for (const path of from.adapter.modulePaths) deltas.set(path, await from.adapter.layerFor(path)!.deltaWeight(rt));
    weights = writeSafetensors(mergedTensors(folder.config, folder.weights, deltas), { format: 'pt' });
  }
  return { weights, configJson: float32ConfigJson(folder.configJson), extraFiles: folder.textFiles };
}

/** An adapter folder's two files loaded onto the model, with the settings the page takes from it. */
export async function importedAdapter(
  rt: GpuRuntime,
  model: Transformer,
  folder: TextModelFolder,
  configText: string,
  weights: Blob,
  fileName: string,
): Promise<{ adapter: Adapter; settings: Partial<TrainSettings>; trainableParams: number }> {
  const spec = parseAdapterConfig(configText, 'adapter_config.json');
  const file = parseSafetensors(new Uint8Array(await weights.arrayBuffer()), fileName);
  const adapter = loadAdapter(rt, model, spec, file.tensors, fileName);
  const settings: Partial<TrainSettings> = {
    method: spec.method,
    rank: spec.rank,
    alpha: spec.alpha,
    rslora: spec.rslora,
    dropout: spec.dropout,
    targets: spec.targets,
  };
  return { adapter, settings, trainableParams: trainableCount(spec, folder.config) };
}
