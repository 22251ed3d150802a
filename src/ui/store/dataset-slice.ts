import type { StateCreator } from 'zustand';
import type { DatasetSummary } from '../../worker/protocol';
import { send } from '../worker-client';
import type { StudioState } from './store';

export interface DatasetSlice {
  dataset: DatasetSummary | null;
  datasetError: string | null;
  datasetLoading: boolean;
  /** The last file, kept so a different CSV column can be chosen. */
  datasetFile: { name: string; text: string } | null;
  loadDatasetFile(file: File): Promise<void>;
  chooseCsvColumn(column: string): void;
  retokenizeDataset(): void;
  datasetLoaded(dataset: DatasetSummary): void;
  datasetFailed(message: string): void;
}

export const createDatasetSlice: StateCreator<StudioState, [], [], DatasetSlice> = (set, get) => {
  const sendFile = (name: string, text: string, csvColumn: string | null) => {
    const { seqLen, valFraction, seed } = get().settings;
    set({ datasetLoading: true, datasetError: null });
    send({ type: 'load-dataset', fileName: name, text, csvColumn, seqLen, valFraction, seed });
  };
  return {
    dataset: null,
    datasetError: null,
    datasetLoading: false,
    datasetFile: null,
    loadDatasetFile: async (file) => {
      const text = await file.text();
      set({ datasetFile: { name: file.name, text } });
      sendFile(file.name, text, null);
    },
    chooseCsvColumn: (column) => {
      const f = get().datasetFile;
      if (f) sendFile(f.name, f.text, column);
    },
    retokenizeDataset: () => {
      if (!get().dataset) return;
      const { seqLen, valFraction, seed } = get().settings;
      send({ type: 'retokenize-dataset', seqLen, valFraction, seed });
    },
    datasetLoaded: (dataset) => set({ dataset, datasetError: null, datasetLoading: false }),
    datasetFailed: (datasetError) => set({ datasetError, datasetLoading: false }),
  };
};
