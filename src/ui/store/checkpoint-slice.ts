import type { StateCreator } from 'zustand';
import type { CheckpointSummary, GpuSummary } from '../../worker/protocol';
import { send } from '../worker-client';
import { EMPTY_OUTPUT } from './generation-slice';
import type { StudioState } from './store';
import { isRunActive } from './training-slice';

/**
 * Saved runs as the page sees them: the offer to resume one (after a reload, or after the GPU
 * device was lost), why a resume was refused, the last checkpoint of the running run, and what
 * happened to the device.
 */
export interface CheckpointSlice {
  /** The saved run the page offers to resume; null: none, or a run began since. */
  resumeOffer: CheckpointSummary | null;
  /** Why the worker refused the last resume (another model or dataset…). */
  resumeError: string | null;
  /** The newest checkpoint of the run on screen. */
  lastCheckpoint: CheckpointSummary | null;
  /** A checkpoint that could not be saved, or checkpoints being unavailable. */
  checkpointError: string | null;
  /** What the page says after the GPU device was lost (null until then, and again once a run starts). */
  deviceLostMessage: string | null;
  resumeRun(): void;
  discardCheckpoint(): void;
  checkpointOffered(checkpoint: CheckpointSummary | null): void;
  checkpointSaved(checkpoint: CheckpointSummary): void;
  checkpointFailed(message: string): void;
  resumeRefused(message: string): void;
  deviceLost(message: string, gpu: GpuSummary | null): void;
}

/** Whether the loaded model and dataset are those the offer needs (the worker checks their fingerprints too). */
export function resumeNeeds(s: Pick<StudioState, 'model' | 'dataset'>, offer: CheckpointSummary): { model: boolean; dataset: boolean } {
  return { model: s.model?.name === offer.modelName, dataset: offer.datasetKept || s.dataset?.fileName === offer.datasetName };
}

export const createCheckpointSlice: StateCreator<StudioState, [], [], CheckpointSlice> = (set, get) => ({
  resumeOffer: null,
  resumeError: null,
  lastCheckpoint: null,
  checkpointError: null,
  deviceLostMessage: null,
  resumeRun: () => {
    if (isRunActive(get().trainingStatus) || !get().resumeOffer) return;
    // As a new run does: nothing of what was on screen stays as if it were this run's.
    set({
      trainingStatus: 'starting',
      trainingMessage: null,
      resumeError: null,
      checkpointError: null,
      outputs: { base: EMPTY_OUTPUT, adapted: EMPTY_OUTPUT },
      outputsFrom: null,
      generationError: null,
      exportError: null,
    });
    send({ type: 'resume-checkpoint', checkpointEvery: get().checkpointEvery });
  },
  discardCheckpoint: () => {
    set({ resumeOffer: null, resumeError: null, lastCheckpoint: null });
    send({ type: 'discard-checkpoint' });
  },
  // While a run is on, an offer (of that run's own checkpoint) would only invite a second run.
  checkpointOffered: (checkpoint) => set((s) => ({ resumeOffer: isRunActive(s.trainingStatus) ? null : checkpoint, resumeError: null })),
  checkpointSaved: (lastCheckpoint) => set({ lastCheckpoint, checkpointError: null }),
  checkpointFailed: (checkpointError) => set({ checkpointError }),
  resumeRefused: (resumeError) =>
    set((s) => ({ resumeError, trainingStatus: s.trainingStatus === 'starting' ? 'idle' : s.trainingStatus })),
  deviceLost: (message, gpu) =>
    set({
      deviceLostMessage: message,
      trainingStatus: 'error',
      trainingMessage: message,
      ...(gpu ? { gpuStatus: { kind: 'ready' as const, gpu } } : {}),
    }),
});
