import type { StateCreator } from 'zustand';
import { send } from '../worker-client';
import { downloadExport, isMergedKind, type DownloadKind } from '../downloads';
import type { StudioState } from './store';

export interface ExportSlice {
  pendingDownload: DownloadKind | null;
  exportError: string | null;
  importError: string | null;
  requestDownload(kind: DownloadKind): void;
  exportReady(weights: Uint8Array, configJson: string): void;
  exportFailed(message: string): void;
  importAdapterFiles(files: readonly File[]): Promise<void>;
  importFailed(message: string): void;
}

export const createExportSlice: StateCreator<StudioState, [], [], ExportSlice> = (set, get) => ({
  pendingDownload: null,
  exportError: null,
  importError: null,
  requestDownload: (kind) => {
    set({ pendingDownload: kind, exportError: null });
    send({ type: isMergedKind(kind) ? 'export-merged' : 'export-adapter' });
  },
  exportReady: (weights, configJson) => {
    const kind = get().pendingDownload;
    if (kind) downloadExport(kind, weights, configJson);
    set({ pendingDownload: null });
  },
  exportFailed: (exportError) => set({ exportError, pendingDownload: null }),
  importAdapterFiles: async (files) => {
    const config = files.find((f) => f.name === 'adapter_config.json');
    const weights = files.find((f) => f.name.endsWith('.safetensors'));
    if (!config || !weights) {
      set({ importError: 'pick both adapter_config.json and adapter_model.safetensors' });
      return;
    }
    set({ importError: null });
    send({ type: 'import-adapter', configText: await config.text(), weights, fileName: weights.name });
  },
  importFailed: (importError) => set({ importError }),
});
