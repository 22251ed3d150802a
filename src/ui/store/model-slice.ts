import type { StateCreator } from 'zustand';
import type { GpuSummary, ModelSummary } from '../../worker/protocol';
import type { PickedFile } from '../components/DropZone';
import { send } from '../worker-client';
import type { StudioState } from './store';
import { heldName, isRunActive } from './training-slice';

/** The page's message while a run holds the model (the worker refuses a change too). */
export const MODEL_LOCKED = 'Training is in progress: stop the run to change the model.';

/**
 * Whether loading `next` may go ahead: never during a run; after one, a trained result that was not
 * downloaded goes with the old model, so the user is asked first.
 */
function mayReplaceModel(s: StudioState, next: string, set: (p: Partial<StudioState>) => void): boolean {
  if (isRunActive(s.trainingStatus)) {
    set({ modelError: MODEL_LOCKED });
    return false;
  }
  set({ modelError: null });
  if (!s.held || s.heldSaved) return true;
  const what = heldName(s.held);
  return globalThis.confirm(
    `Loading ${next} discards the ${what} trained on ${s.model?.name ?? 'the current model'}: it has not been downloaded. ` +
      `Download it first under "7 · Export and import" to keep it.\n\nDiscard the ${what} and load ${next}?`,
  );
}

/**
 * The bundled models: kjv-tiny (pretrained on the KJV by `npm run pretrain`) opens by default;
 * dev-tiny (random, 90k parameters) is for quick checks and the e2e tests: `?model=dev-tiny`.
 */
export const BUNDLED_MODELS = ['kjv-tiny', 'dev-tiny'] as const;

function bundledModel(): { name: string; baseUrl: string } {
  const asked = new URLSearchParams(globalThis.location?.search ?? '').get('model');
  const name = BUNDLED_MODELS.find((m) => m === asked) ?? BUNDLED_MODELS[0];
  return { name, baseUrl: `${import.meta.env.BASE_URL}models/${name}` };
}

export type GpuStatus = { kind: 'checking' } | { kind: 'ready'; gpu: GpuSummary } | { kind: 'unavailable'; reason: string };
export type ModelStatus = 'none' | 'loading' | 'loaded' | 'error';

export interface ModelSlice {
  gpuStatus: GpuStatus;
  model: ModelSummary | null;
  modelStatus: ModelStatus;
  modelLoadingName: string | null;
  modelError: string | null;
  setGpuStatus(status: GpuStatus): void;
  loadBundledModel(): void;
  loadModelFiles(files: readonly PickedFile[]): void;
  modelLoading(name: string): void;
  modelLoaded(model: ModelSummary): void;
  modelFailed(message: string): void;
}

/**
 * A picked or dropped folder's files by base name; the folder's name is the model's name. A file
 * in a subfolder (Llama repos' original/, a .git/ folder) never shadows one of the same name at the top.
 */
export function folderOf(files: readonly PickedFile[]): { name: string; files: { name: string; blob: Blob }[] } {
  const first = files[0]?.path ?? '';
  const name = first.includes('/') ? first.split('/')[0]! : 'local model';
  const depth = (f: PickedFile) => f.path.split('/').length;
  const byName = new Map<string, PickedFile>();
  for (const f of files) {
    const had = byName.get(f.file.name);
    if (!had || depth(f) < depth(had)) byName.set(f.file.name, f);
  }
  return { name, files: [...byName.values()].map((f) => ({ name: f.file.name, blob: f.file })) };
}

export const createModelSlice: StateCreator<StudioState, [], [], ModelSlice> = (set, get) => ({
  gpuStatus: { kind: 'checking' },
  model: null,
  modelStatus: 'none',
  modelLoadingName: null,
  modelError: null,
  setGpuStatus: (gpuStatus) => set({ gpuStatus }),
  loadBundledModel: () => {
    const source = { kind: 'bundled', ...bundledModel() } as const;
    // The first load (the worker's GPU just became ready) has nothing to lose and asks nothing.
    if (get().model && !mayReplaceModel(get(), source.name, set)) return;
    send({ type: 'load-model', source });
  },
  loadModelFiles: (files) => {
    if (files.length === 0) return;
    const source = { kind: 'files', ...folderOf(files) } as const;
    if (!mayReplaceModel(get(), source.name, set)) return;
    send({ type: 'load-model', source });
  },
  modelLoading: (name) => set({ modelStatus: 'loading', modelLoadingName: name, modelError: null }),
  modelLoaded: (model) => set({ model, modelStatus: 'loaded', modelError: null, modelLoadingName: null }),
  modelFailed: (modelError) => set((s) => ({ modelError, modelStatus: s.model ? 'loaded' : 'error', modelLoadingName: null })),
});
