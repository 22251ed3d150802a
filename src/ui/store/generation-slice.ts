import type { StateCreator } from 'zustand';
import type { GenerationProgress, GenerationSettings, HeldResult, Which } from '../../worker/protocol';
import { send } from '../worker-client';
import type { StudioState } from './store';

export type GenerationOutput = GenerationProgress;

export interface GenerationSlice {
  generationSettings: GenerationSettings;
  outputs: Record<Which, GenerationOutput>;
  /** What the worker held when the outputs were generated (names the adapted side). */
  outputsFrom: HeldResult | null;
  generating: boolean;
  generationError: string | null;
  updateGenerationSettings(patch: Partial<GenerationSettings>): void;
  startGeneration(): void;
  generationUpdate(which: Which, progress: GenerationProgress): void;
  generationFailed(message: string): void;
}

export const EMPTY_OUTPUT: GenerationOutput = { text: '', tokens: 0, done: false, promptText: '', chat: false, stop: null };
const EMPTY = EMPTY_OUTPUT;

export const createGenerationSlice: StateCreator<StudioState, [], [], GenerationSlice> = (set, get) => ({
  generationSettings: { prompt: 'The quick brown', useChatTemplate: true, temperature: 0, topK: 20, maxNewTokens: 24, seed: 7 },
  outputs: { base: EMPTY, adapted: EMPTY },
  outputsFrom: null,
  generating: false,
  generationError: null,
  updateGenerationSettings: (patch) => set((s) => ({ generationSettings: { ...s.generationSettings, ...patch } })),
  startGeneration: () => {
    set({ generating: true, generationError: null, outputs: { base: EMPTY, adapted: EMPTY }, outputsFrom: get().held });
    send({ type: 'generate', settings: get().generationSettings });
  },
  generationUpdate: (which, progress) =>
    set((s) => ({
      outputs: { ...s.outputs, [which]: progress },
      generating: !(which === 'adapted' && progress.done),
    })),
  generationFailed: (generationError) => set({ generationError, generating: false }),
});
