import type { StateCreator } from 'zustand';
import { datasetText } from '../../data/parse';
import type { DatasetOptions, DatasetSummary } from '../../worker/protocol';
import { send } from '../worker-client';
import type { StudioState } from './store';
import { isRunActive } from './training-slice';

/** The page's message while a run holds the dataset. */
export const DATASET_LOCKED = 'Training is in progress: stop the run to change the dataset (the run trains on the data it started with).';

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

/**
 * The sequence length a freshly loaded dataset asks for: the length that keeps 95 % of its pair
 * and chat rows whole, rounded up and capped at the model's positions (the worker works it out);
 * null for plain text (packed, so any length fits) or when it is the length already set.
 */
export function dataSeqLen(dataset: DatasetSummary, current: number): number | null {
  const wanted = dataset.lengths?.suggestedSeqLen ?? null;
  return wanted === null || wanted === current ? null : wanted;
}

export const DEFAULT_DATASET_OPTIONS: DatasetOptions = { truncation: 'right', chatTemplate: 'model' };

export interface DatasetSlice {
  dataset: DatasetSummary | null;
  /** Truncation side and chat template, sent with every (re)tokenization. */
  datasetOptions: DatasetOptions;
  /** Set when the sequence length was chosen from the data, saying so (shown while the length and the data's p95 are still those). */
  seqLenNote: { readonly seqLen: number; readonly p95: number; readonly text: string } | null;
  /** The next dataset-loaded of a new file sets the sequence length from its row lengths. */
  seqLenFromData: boolean;
  datasetError: string | null;
  datasetLoading: boolean;
  /** The last file, kept so a different CSV column can be chosen. */
  datasetFile: { name: string; text: string } | null;
  loadDatasetFile(file: File): Promise<void>;
  /** Fetches one of SAMPLE_DATASETS from the same origin and loads it (raising the sequence length to what it needs). */
  loadSampleDataset(file: string): Promise<void>;
  chooseCsvColumn(column: string): void;
  setDatasetOptions(patch: Partial<DatasetOptions>): void;
  retokenizeDataset(): void;
  datasetLoaded(dataset: DatasetSummary): void;
  datasetFailed(message: string): void;
}

export const createDatasetSlice: StateCreator<StudioState, [], [], DatasetSlice> = (set, get) => {
  /** During a run the dataset stays as the run started with it (the worker refuses a change too). */
  const locked = (): boolean => {
    if (!isRunActive(get().trainingStatus)) return false;
    set({ datasetError: DATASET_LOCKED });
    return true;
  };
  const sendFile = (name: string, text: string, csvColumn: string | null) => {
    const { seqLen, valFraction, seed } = get().settings;
    set({ datasetLoading: true, datasetError: null });
    send({
      type: 'load-dataset',
      fileName: name,
      text,
      csvColumn,
      seqLen,
      valFraction,
      seed,
      options: get().datasetOptions,
      maxSamples: get().settings.maxSamples,
    });
  };
  return {
    dataset: null,
    datasetOptions: DEFAULT_DATASET_OPTIONS,
    seqLenNote: null,
    seqLenFromData: false,
    datasetError: null,
    datasetLoading: false,
    datasetFile: null,
    loadDatasetFile: async (file) => {
      if (locked()) return;
      let text: string;
      try {
        text = datasetText(file.name, new Uint8Array(await file.arrayBuffer()));
      } catch (e) {
        set({ datasetError: (e as Error).message, datasetLoading: false });
        return;
      }
      set({ datasetFile: { name: file.name, text }, seqLenFromData: true, seqLenNote: null });
      sendFile(file.name, text, null);
    },
    loadSampleDataset: async (file) => {
      if (locked()) return;
      set({ datasetLoading: true, datasetError: null });
      try {
        const res = await fetch(`${import.meta.env.BASE_URL}samples/${file}`);
        if (!res.ok) throw new Error(`${file}: HTTP ${res.status}`);
        const text = await res.text();
        const seqLen = sampleSeqLen(file, get().settings.seqLen, get().model?.config.maxPositions ?? Infinity);
        set((s) => ({ datasetFile: { name: file, text }, settings: { ...s.settings, seqLen }, seqLenFromData: false, seqLenNote: null }));
        sendFile(file, text, null);
      } catch (e) {
        set({ datasetError: `could not fetch the sample dataset ${(e as Error).message}`, datasetLoading: false });
      }
    },
    chooseCsvColumn: (column) => {
      if (locked()) return;
      const f = get().datasetFile;
      if (f) sendFile(f.name, f.text, column);
    },
    setDatasetOptions: (patch) => {
      if (locked()) return;
      set((s) => ({ datasetOptions: { ...s.datasetOptions, ...patch } }));
      get().retokenizeDataset();
    },
    retokenizeDataset: () => {
      if (!get().dataset) return;
      const { seqLen, valFraction, seed } = get().settings;
      send({ type: 'retokenize-dataset', seqLen, valFraction, seed, options: get().datasetOptions, maxSamples: get().settings.maxSamples });
    },
    datasetLoaded: (dataset) => {
      const fromData = get().seqLenFromData;
      set({ dataset, datasetError: null, datasetLoading: false, seqLenFromData: false });
      const seqLen = fromData ? dataSeqLen(dataset, get().settings.seqLen) : null;
      if (seqLen === null) return;
      const p95 = dataset.lengths!.p95;
      const capped = p95 > seqLen ? ` (the model has ${seqLen} positions)` : '';
      const text = `Sequence length set to ${seqLen} from the data: 95 % of rows have ≤ ${p95} tokens${capped}.`;
      set((s) => ({ settings: { ...s.settings, seqLen }, seqLenNote: { seqLen, p95, text } }));
      get().retokenizeDataset();
    },
    datasetFailed: (datasetError) => set({ datasetError, datasetLoading: false }),
  };
};
