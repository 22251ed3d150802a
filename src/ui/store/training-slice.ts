import type { StateCreator } from 'zustand';
import { ADAPTER_METHODS } from '../../adapters';
import type { HeldResult, ModuleUpdateStats, ResumedRun, StudioEvent, TrainedKind, LayerVectors } from '../../worker/protocol';
import { send } from '../worker-client';
import { EMPTY_OUTPUT } from './generation-slice';
import type { StudioState } from './store';

export type TrainingStatus = 'idle' | 'starting' | 'running' | 'paused' | 'finished' | 'error';

/** A run is on (asked for, running or paused): the model and the dataset stay as they are. */
export const isRunActive = (status: TrainingStatus): boolean => status === 'starting' || status === 'running' || status === 'paused';

/** Leaving the page now would lose work: a run is on, or a trained result was never downloaded. */
export const leavingLosesWork = (s: Pick<TrainingSlice, 'trainingStatus' | 'held' | 'heldSaved'>): boolean =>
  isRunActive(s.trainingStatus) || (s.held !== null && !s.heldSaved);

const METHOD_NAME = (method: HeldResult['method']): string => (method === 'relora' ? 'ReLoRA' : ADAPTER_METHODS[method].format.label);

/** How the page names what the worker holds: "LoRA adapter", "ReLoRA-trained model". */
export const heldName = (h: HeldResult): string => (h.kind === 'relora' ? 'ReLoRA-trained model' : `${METHOD_NAME(h.method)} adapter`);

/** Column-oriented series, as the charts take them. */
export interface LossHistory {
  steps: number[];
  losses: number[];
  lrs: number[];
  /** ReLoRA: steps right after a merge-and-reinit (where the markers go). */
  resets: number[];
  /** ReLoRA: the first LoRA step (the end of the full-rank warm start), or null. */
  loraStart: number | null;
}

export interface ValHistory {
  steps: number[];
  losses: number[];
}

export interface UpdateSnapshot {
  step: number;
  modules: readonly ModuleUpdateStats[];
}

type StepEvent = Extract<StudioEvent, { type: 'train-step' }>;

export interface TrainingSlice {
  trainingStatus: TrainingStatus;
  step: number;
  totalSteps: number;
  trainableParams: number | null;
  tokensPerSecond: number;
  elapsedMs: number;
  epoch: number;
  trainingMessage: string | null;
  history: LossHistory;
  valHistory: ValHistory;
  updates: UpdateSnapshot[];
  /** The adapter's per-layer vectors at the last report (VeRA's λ_b, λ_d; none for LoRA). */
  layerVectors: readonly LayerVectors[];
  /** True once an adapter exists in the worker (trained or imported). */
  hasAdapter: boolean;
  /** What the worker holds: a PEFT adapter or a ReLoRA-trained model (null: nothing yet). */
  trainedKind: TrainedKind | null;
  /** What the worker says it holds (its 'held' events): the truth the export and generate panels follow. */
  held: HeldResult | null;
  /** The held result was downloaded (or imported from files), so nothing is lost if it goes. */
  heldSaved: boolean;
  heldChanged(held: HeldResult | null): void;
  heldDownloaded(): void;
  startTraining(continueAdapter: boolean): void;
  pauseTraining(): void;
  resumeTraining(): void;
  stopTraining(): void;
  trainingStarted(totalSteps: number, trainableParams: number, continued: boolean, kind: TrainedKind, resumed?: ResumedRun): void;
  trainingStep(e: StepEvent): void;
  validationLoss(step: number, loss: number): void;
  updateStats(step: number, modules: readonly ModuleUpdateStats[], vectors: readonly LayerVectors[]): void;
  trainingPaused(message: string): void;
  trainingResumed(): void;
  trainingFinished(reason: 'completed' | 'stopped', step: number): void;
  trainingFailed(message: string): void;
  adapterImported(trainableParams: number): void;
}

const emptyHistory = (): LossHistory => ({ steps: [], losses: [], lrs: [], resets: [], loraStart: null });

/** "Stop the run to change …" errors (the page's and the worker's) are over once the run is. */
const runOver = (s: StudioState): Partial<StudioState> => {
  const stale = (m: string | null) => m?.includes('stop the run to change');
  return { ...(stale(s.modelError) ? { modelError: null } : {}), ...(stale(s.datasetError) ? { datasetError: null } : {}) };
};

/** The charts of a resumed run up to its checkpoint (its update statistics are not kept). */
const resumedHistory = (r: ResumedRun) => ({
  step: r.fromStep,
  history: {
    steps: r.history.losses.map((_, i) => i + 1),
    losses: [...r.history.losses],
    lrs: [...r.history.lrs],
    resets: [],
    loraStart: null,
  },
  valHistory: { steps: [...r.history.valSteps], losses: [...r.history.valLosses] },
  updates: [],
  layerVectors: [],
});

/** A run's charts, step counters and update statistics, emptied. */
const clearedRun = () => ({
  step: 0,
  tokensPerSecond: 0,
  elapsedMs: 0,
  epoch: 0,
  history: emptyHistory(),
  valHistory: { steps: [], losses: [] },
  updates: [],
  layerVectors: [],
});

export const createTrainingSlice: StateCreator<StudioState, [], [], TrainingSlice> = (set, get) => ({
  trainingStatus: 'idle',
  step: 0,
  totalSteps: 0,
  trainableParams: null,
  tokensPerSecond: 0,
  elapsedMs: 0,
  epoch: 0,
  trainingMessage: null,
  history: emptyHistory(),
  valHistory: { steps: [], losses: [] },
  updates: [],
  layerVectors: [],
  hasAdapter: false,
  trainedKind: null,
  held: null,
  heldSaved: false,
  heldChanged: (held) =>
    set((s) => {
      // The old generations came from what was held before; export errors were about it too.
      const fresh = {
        held,
        heldSaved: false,
        hasAdapter: held !== null,
        trainedKind: held?.kind ?? null,
        outputs: { base: EMPTY_OUTPUT, adapted: EMPTY_OUTPUT },
        outputsFrom: null,
        exportError: null,
      };
      // Gone without a run failing: a new model was loaded, and the old run's charts and numbers go with it.
      if (held === null && s.held !== null && s.trainingStatus !== 'error' && !isRunActive(s.trainingStatus)) {
        return {
          ...fresh,
          ...clearedRun(),
          trainingStatus: 'idle' as const,
          totalSteps: 0,
          trainableParams: null,
          trainingMessage: `The ${heldName(s.held)} was discarded with the model it was trained on.`,
        };
      }
      return fresh;
    }),
  heldDownloaded: () => set({ heldSaved: true }),
  startTraining: (continueAdapter) => {
    if (isRunActive(get().trainingStatus)) return;
    // Nothing of the last run stays on screen as if it were this one's: numbers, outputs, errors.
    set({
      trainingStatus: 'starting',
      trainingMessage: null,
      step: 0,
      totalSteps: 0,
      tokensPerSecond: 0,
      elapsedMs: 0,
      epoch: 0,
      ...(continueAdapter ? {} : clearedRun()),
      outputs: { base: EMPTY_OUTPUT, adapted: EMPTY_OUTPUT },
      outputsFrom: null,
      generationError: null,
      exportError: null,
      // The new run replaces the saved one (the worker lets its checkpoint go).
      resumeOffer: null,
      resumeError: null,
      lastCheckpoint: null,
      checkpointError: null,
      deviceLostMessage: null,
    });
    send({ type: 'train', settings: get().settings, continueAdapter, checkpointEvery: get().checkpointEvery });
  },
  pauseTraining: () => send({ type: 'pause' }),
  resumeTraining: () => send({ type: 'resume' }),
  stopTraining: () => send({ type: 'stop' }),
  trainingStarted: (totalSteps, trainableParams, continued, kind, resumed) => {
    set({
      trainingStatus: 'running',
      totalSteps,
      trainableParams,
      step: 0,
      hasAdapter: true,
      trainedKind: kind,
      ...(continued ? {} : { history: emptyHistory(), valHistory: { steps: [], losses: [] }, updates: [], layerVectors: [] }),
      ...(resumed ? resumedHistory(resumed) : {}),
    });
    if (!resumed) return;
    // The page shows what the resumed run runs with: its own settings and dataset options.
    get().adoptRunSettings(resumed.settings);
    set({ datasetOptions: resumed.datasetOptions, resumeOffer: null, resumeError: null, deviceLostMessage: null });
  },
  trainingStep: (e) =>
    set((s) => {
      const at = s.history.steps.length + 1;
      return {
        step: e.step,
        totalSteps: e.totalSteps,
        tokensPerSecond: e.tokensPerSecond,
        elapsedMs: e.elapsedMs,
        epoch: e.epoch,
        history: {
          steps: [...s.history.steps, at],
          losses: [...s.history.losses, e.loss],
          lrs: [...s.history.lrs, e.lr],
          resets: e.relora?.reset ? [...s.history.resets, at] : s.history.resets,
          loraStart: s.history.loraStart ?? (e.relora?.phase === 'relora' ? at : null),
        },
      };
    }),
  validationLoss: (_step, loss) =>
    set((s) => ({ valHistory: { steps: [...s.valHistory.steps, s.history.steps.length], losses: [...s.valHistory.losses, loss] } })),
  updateStats: (_step, modules, vectors) =>
    set((s) => ({
      updates: [...s.updates, { step: s.history.steps.length, modules }],
      layerVectors: vectors.length > 0 ? vectors : s.layerVectors,
    })),
  trainingPaused: (trainingMessage) => set({ trainingStatus: 'paused', trainingMessage }),
  trainingResumed: () => set({ trainingStatus: 'running', trainingMessage: null }),
  trainingFinished: (reason, step) =>
    set((s) => ({
      ...runOver(s),
      trainingStatus: 'finished',
      trainingMessage: reason === 'stopped' ? `Stopped after step ${step}.` : `Finished ${step} steps.`,
    })),
  trainingFailed: (trainingMessage) => set((s) => ({ ...runOver(s), trainingStatus: 'error', trainingMessage })),
  adapterImported: (trainableParams) =>
    set({
      hasAdapter: true,
      heldSaved: true,
      trainedKind: 'adapter',
      trainableParams,
      trainingMessage: 'Adapter imported: generate with it or continue training.',
    }),
});
