import type { StateCreator } from 'zustand';
import { send } from '../worker-client';
import { findAdapterFiles } from '../../formats/adapter-files';
import type { ModelTextFile } from '../../worker/protocol';
import { downloadExport, isMergedKind, type DownloadKind } from '../downloads';
import type { StudioState } from './store';

export interface ExportSlice {
  pendingDownload: DownloadKind | null;
  exportError: string | null;
  importError: string | null;
  requestDownload(kind: DownloadKind): void;
  exportReady(weights: Uint8Array, configJson: string, extraFiles: readonly ModelTextFile[]): void;
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
  exportReady: (weights, configJson, extraFiles) => {
    const kind = get().pendingDownload;
    // A download that could not be built is offered not at all, and the page says why.
    set({ pendingDownload: null, exportError: kind ? downloadExport(kind, weights, configJson, extraFiles) : null });
  },
  exportFailed: (exportError) => set({ exportError, pendingDownload: null }),
  importAdapterFiles: async (files) => {
    // Told apart by content: "adapter_config (1).json" is a repeated download, adapter.zip the studio's own export.
    const picked = await Promise.all(files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
    const found = findAdapterFiles(picked);
    if (typeof found === 'string') {
      set({ importError: found });
      return;
    }
    set({ importError: null });
    const weights = new Blob([found.weights as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
    send({ type: 'import-adapter', configText: found.configText, weights, fileName: found.weightsName });
  },
  importFailed: (importError) => set({ importError }),
});
