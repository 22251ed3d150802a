/**
 * The studio's checkpoints: what it keeps with a run's state (src/train/checkpoint.ts) to know the
 * run again (the model's and the dataset's fingerprints, the settings, the charts so far), the
 * sink a TrainingRun saves through, and the checks that refuse to resume on other inputs.
 */
import { type DataOrder, deserializeCheckpoint, serializeCheckpoint, type TrainingCheckpoint } from '../train/checkpoint';
import type { AdapterSpec } from '../formats/peft';
import type { CheckpointStore } from './checkpoint-store';
import type { CheckpointSummary, DatasetOptions, StudioEvent, TrainSettings } from './protocol';
import type { CheckpointSink, RunProgress, RunSnapshot } from './training-run';

/** The dataset file as the page handed it over, with its text's fingerprint. */
export interface DatasetSource {
  readonly fileName: string;
  readonly text: string;
  readonly csvColumn: string | null;
  readonly fingerprint: string;
}

/** What identifies a run and lets it go on: saved with every checkpoint. */
export interface StudioRun {
  readonly savedAt: string;
  readonly totalSteps: number;
  readonly model: { readonly name: string; readonly fingerprint: string };
  readonly dataset: {
    readonly fileName: string;
    readonly csvColumn: string | null;
    /** Of the file's text (finds the kept copy). */
    readonly textFingerprint: string;
    /** Of the tokenized train and validation sequences (what the run really trains on). */
    readonly sequencesFingerprint: string;
    /** The file's text is kept in the store beside the checkpoint. */
    readonly kept: boolean;
  };
  readonly settings: TrainSettings;
  readonly datasetOptions: DatasetOptions;
  readonly progress: RunProgress;
}

export type StudioCheckpoint = TrainingCheckpoint<StudioRun>;

/** Dataset files up to this size are kept with the checkpoint (a larger one must be loaded again to resume). */
export const MAX_KEPT_DATASET_CHARS = 64 * 1024 * 1024;

/** Reads a stored checkpoint; throws for a torn, foreign or older-format file (the store then drops it). */
export function readStudioCheckpoint(bytes: Uint8Array, name: string): StudioCheckpoint {
  const c = deserializeCheckpoint<StudioRun>(bytes, name);
  const r = c.run as Partial<StudioRun> | undefined;
  if (!r?.model || !r.dataset || !r.settings || !r.progress || !r.datasetOptions) throw new Error(`${name}: not a studio checkpoint`);
  return c;
}

export function summaryOf(c: Pick<StudioCheckpoint, 'trainer' | 'run'>): CheckpointSummary {
  const { run } = c;
  return {
    step: c.trainer.step,
    totalSteps: run.totalSteps,
    savedAt: run.savedAt,
    modelName: run.model.name,
    datasetName: run.dataset.fileName,
    datasetKept: run.dataset.kept,
    settings: run.settings,
  };
}

/**
 * The sink a run saves through: each snapshot becomes one checkpoint file, and the page hears
 * of it (or of why it could not be saved: the run goes on either way).
 */
export function checkpointSink(
  store: CheckpointStore,
  every: number,
  spec: AdapterSpec,
  run: Omit<StudioRun, 'savedAt' | 'progress'>,
  post: (event: StudioEvent) => void,
): CheckpointSink {
  return {
    every,
    save: async (snap: RunSnapshot) => {
      const c: StudioCheckpoint = {
        spec,
        adapter: snap.adapter,
        trainer: snap.trainer,
        dataOrder: snap.dataOrder satisfies DataOrder,
        run: { ...run, savedAt: new Date().toISOString(), progress: snap.progress },
      };
      try {
        await store.save(serializeCheckpoint(c));
        post({ type: 'checkpoint-saved', checkpoint: summaryOf(c) });
      } catch (e) {
        post({ type: 'checkpoint-error', message: `The checkpoint of step ${snap.step} was not saved: ${(e as Error).message}` });
      }
    },
  };
}

/** Why the loaded model is not the checkpoint's (null: it is). */
export function modelMismatch(run: StudioRun, loaded: { name: string; fingerprint: string } | null): string | null {
  const want = run.model;
  if (!loaded) return `load the model ${want.name} first: the run trained on it`;
  if (loaded.fingerprint === want.fingerprint) return null;
  const same = loaded.name === want.name ? ` (a ${want.name} with another config or other weights)` : '';
  return `the run trained on the model ${want.name} and the loaded model is ${loaded.name}${same}: load ${want.name} to resume`;
}

/** Why the dataset tokenizes to other sequences than the run's (null: the same ones). */
export function datasetMismatch(run: StudioRun, sequencesFingerprint: string): string | null {
  if (sequencesFingerprint === run.dataset.sequencesFingerprint) return null;
  return (
    `the dataset ${run.dataset.fileName} no longer tokenizes to the sequences the run trained on ` +
    '(another file under that name, or another tokenizer): load the very file the run started with'
  );
}
