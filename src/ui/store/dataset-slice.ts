import type { StateCreator } from 'zustand';
import type { DatasetSummary } from '../../worker/protocol';
import { send } from '../worker-client';
import type { StudioState } from './store';

/** The datasets in public/samples (see its README for sources and licence). */
export const SAMPLE_DATASETS: readonly { file: string; label: string; seqLen: number }[] = [
  { file: 'ships-log.txt', label: "A sailing ship's log (plain text, 240 entries)", seqLen: 64 },
  // With kjv-tiny's BPE the longest row (Alpaca template included) fits in 128 tokens; with a
  // byte-level vocabulary it would need ~210, and the cap below keeps it within the model.
  { file: 'pirate-instructions.jsonl', label: 'Answer like a pirate (Alpaca instructions, 120 rows)', seqLen: 128 },
];

/**
 * The sequence length after choosing a sample: raised to what the sample needs, never lowered,
 * and never beyond the model's positions (a longer sequence could not train at all).
 */
export function sampleSeqLen(file: string, current: number, maxPositions: number): number {
  const needs = SAMPLE_DATASETS.find((d) => d.file === file)?.seqLen ?? 0;
  return Math.min(Math.max(current, needs), maxPositions);
}

export interface DatasetSlice {
  dataset: DatasetSummary | null;
  datasetError: string | null;
  datasetLoading: boolean;
  /** The last file, kept so a different CSV column can be chosen. */
  datasetFile: { name: string; text: string } | null;
  loadDatasetFile(file: File): Promise<void>;
  /** Fetches one of SAMPLE_DATASETS from the same origin and loads it (raising the sequence length to what it needs). */
  loadSampleDataset(file: string): Promise<void>;
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
    loadSampleDataset: async (file) => {
      set({ datasetLoading: true, datasetError: null });
      try {
        const res = await fetch(`${import.meta.env.BASE_URL}samples/${file}`);
        if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
        const text = await res.text();
        const seqLen = sampleSeqLen(file, get().settings.seqLen, get().model?.config.maxPositions ?? Infinity);
        set((s) => ({ datasetFile: { name: file, text }, settings: { ...s.settings, seqLen } }));
        sendFile(file, text, null);
      } catch (e) {
        set({ datasetError: `could not fetch the sample dataset ${(e as Error).message}`, datasetLoading: false });
      }
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
