import type { StateCreator } from 'zustand';
import type { ModuleUpdateStats, StudioEvent, TrainedKind, VeraLambdas } from '../../worker/protocol';
import { send } from '../worker-client';
import type { StudioState } from './store';

export type TrainingStatus = 'idle' | 'starting' | 'running' | 'paused' | 'finished' | 'error';

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
  veraLambdas: readonly VeraLambdas[];
  /** True once an adapter exists in the worker (trained or imported). */
  hasAdapter: boolean;
  /** What the worker holds: a PEFT adapter or a ReLoRA-trained model (null: nothing yet). */
  trainedKind: TrainedKind | null;
  startTraining(continueAdapter: boolean): void;
  pauseTraining(): void;
  resumeTraining(): void;
  stopTraining(): void;
  trainingStarted(totalSteps: number, trainableParams: number, continued: boolean, kind: TrainedKind): void;
  trainingStep(e: StepEvent): void;
  validationLoss(step: number, loss: number): void;
  updateStats(step: number, modules: readonly ModuleUpdateStats[], vera: readonly VeraLambdas[]): void;
  trainingPaused(message: string): void;
  trainingResumed(): void;
  trainingFinished(reason: 'completed' | 'stopped', step: number): void;
  trainingFailed(message: string): void;
  adapterImported(trainableParams: number): void;
}

const emptyHistory = (): LossHistory => ({ steps: [], losses: [], lrs: [], resets: [], loraStart: null });

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
  veraLambdas: [],
  hasAdapter: false,
  trainedKind: null,
  startTraining: (continueAdapter) => {
    set({ trainingStatus: 'starting', trainingMessage: null });
    send({ type: 'train', settings: get().settings, continueAdapter });
  },
  pauseTraining: () => send({ type: 'pause' }),
  resumeTraining: () => send({ type: 'resume' }),
  stopTraining: () => send({ type: 'stop' }),
  trainingStarted: (totalSteps, trainableParams, continued, kind) =>
    set({
      trainingStatus: 'running', totalSteps, trainableParams, step: 0, hasAdapter: true, trainedKind: kind,
      ...(continued ? {} : { history: emptyHistory(), valHistory: { steps: [], losses: [] }, updates: [], veraLambdas: [] }),
    }),
  trainingStep: (e) =>
    set((s) => {
      const at = s.history.steps.length + 1;
      return {
        step: e.step, totalSteps: e.totalSteps, tokensPerSecond: e.tokensPerSecond, elapsedMs: e.elapsedMs, epoch: e.epoch,
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
  updateStats: (_step, modules, vera) =>
    set((s) => ({ updates: [...s.updates, { step: s.history.steps.length, modules }], veraLambdas: vera.length > 0 ? vera : s.veraLambdas })),
  trainingPaused: (trainingMessage) => set({ trainingStatus: 'paused', trainingMessage }),
  trainingResumed: () => set({ trainingStatus: 'running', trainingMessage: null }),
  trainingFinished: (reason, step) =>
    set({ trainingStatus: 'finished', trainingMessage: reason === 'stopped' ? `Stopped after step ${step}.` : `Finished ${step} steps.` }),
  trainingFailed: (trainingMessage) => set({ trainingStatus: 'error', trainingMessage }),
  adapterImported: (trainableParams) => set({ hasAdapter: true, trainedKind: 'adapter', trainableParams, trainingMessage: 'Adapter imported: generate with it or continue training.' }),
});
