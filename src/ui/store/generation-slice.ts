import type { StateCreator } from 'zustand';
import type { GenerationSettings, Which } from '../../worker/protocol';
import { send } from '../worker-client';
import type { StudioState } from './store';

export interface GenerationOutput {
  text: string;
  tokens: number;
  done: boolean;
}

export interface GenerationSlice {
  generationSettings: GenerationSettings;
  outputs: Record<Which, GenerationOutput>;
  generating: boolean;
  generationError: string | null;
  updateGenerationSettings(patch: Partial<GenerationSettings>): void;
  startGeneration(): void;
  generationUpdate(which: Which, text: string, tokens: number, done: boolean): void;
  generationFailed(message: string): void;
}

const EMPTY: GenerationOutput = { text: '', tokens: 0, done: false };

export const createGenerationSlice: StateCreator<StudioState, [], [], GenerationSlice> = (set, get) => ({
  generationSettings: { prompt: 'The quick brown', temperature: 0, topK: 20, maxNewTokens: 24, seed: 7 },
  outputs: { base: EMPTY, adapted: EMPTY },
  generating: false,
  generationError: null,
  updateGenerationSettings: (patch) => set((s) => ({ generationSettings: { ...s.generationSettings, ...patch } })),
  startGeneration: () => {
    set({ generating: true, generationError: null, outputs: { base: EMPTY, adapted: EMPTY } });
    send({ type: 'generate', settings: get().generationSettings });
  },
  generationUpdate: (which, text, tokens, done) =>
    set((s) => ({
      outputs: { ...s.outputs, [which]: { text, tokens, done } },
      generating: !(which === 'adapted' && done),
    })),
  generationFailed: (generationError) => set({ generationError, generating: false }),
});
