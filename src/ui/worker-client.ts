/** The page's end of the worker protocol: sends requests, routes events to store actions. */
import { type StudioEvent, type StudioRequest, unreachable } from '../worker/protocol';
import type { StudioState } from './store/store';

let worker: Worker | null = null;
let getState: (() => StudioState) | null = null;

export function startWorker(state: () => StudioState): void {
  getState = state;
  worker = new Worker(new URL('../worker/studio-worker.ts', import.meta.url), { type: 'module', name: 'studio-worker' });
  worker.onmessage = (e: MessageEvent<StudioEvent>) => applyEvent(e.data, state());
  worker.onerror = (e) => state().setGpuStatus({ kind: 'unavailable', reason: `the studio worker failed to start: ${e.message}` });
  // `?limits=default`: a device with exactly WebGPU's default limits, as small GPUs grant.
  const limits = new URLSearchParams(globalThis.location?.search ?? '').get('limits') === 'default' ? 'spec-default' : 'adapter';
  send({ type: 'init', profile: state().profileEnabled, limits });
}

export function send(req: StudioRequest): void {
  if (!worker) throw new Error('the studio worker is not running');
  worker.postMessage(req);
}

export function applyEvent(e: StudioEvent, s: StudioState): void {
  switch (e.type) {
    case 'gpu-ready':
      s.setGpuStatus({ kind: 'ready', gpu: e.gpu });
      return s.loadBundledModel();
    case 'gpu-unavailable':
      return s.setGpuStatus({ kind: 'unavailable', reason: e.reason });
    case 'kernel-profile':
      return s.profileReceived(e.step, e.kernels);
    case 'profile-unavailable':
      return s.profileUnavailable(e.reason);
    case 'model-loading':
      return s.modelLoading(e.name);
    case 'model-loaded':
      s.modelLoaded(e.model);
      // The chat template is on by default for a tokenizer that has one.
      getState!().updateGenerationSettings({ useChatTemplate: e.model.hasChatTemplate });
      return getState!().resetTargetsFor(e.model.config);
    case 'model-error':
      return s.modelFailed(e.message);
    case 'dataset-loaded':
      return s.datasetLoaded(e.dataset);
    case 'dataset-error':
      return s.datasetFailed(e.message);
    case 'train-started':
      return s.trainingStarted(e.totalSteps, e.trainableParams, e.continued, e.kind, e.resumed);
    case 'train-step':
      return s.trainingStep(e);
    case 'val-loss':
      return s.validationLoss(e.step, e.loss);
    case 'update-stats':
      return s.updateStats(e.step, e.modules, e.vectors);
    case 'train-paused':
      return s.trainingPaused(e.message);
    case 'train-resumed':
      return s.trainingResumed();
    case 'train-finished':
      return s.trainingFinished(e.reason, e.step);
    case 'train-error':
      return s.trainingFailed(e.message);
    case 'checkpoint-offer':
      return s.checkpointOffered(e.checkpoint);
    case 'checkpoint-saved':
      return s.checkpointSaved(e.checkpoint);
    case 'checkpoint-error':
      return s.checkpointFailed(e.message);
    case 'resume-refused':
      return s.resumeRefused(e.message);
    case 'device-lost':
      return s.deviceLost(e.message, e.gpu);
    case 'generation-update':
      return s.generationUpdate(e.which, e.progress);
    case 'generation-error':
      return s.generationFailed(e.message);
    case 'export-ready':
      // Weights downloaded (not just a config.json): the trained result is safe on disk.
      if (s.pendingDownload && !s.pendingDownload.endsWith('config')) s.heldDownloaded();
      return s.exportReady(e.weights, e.configJson, e.kind === 'merged' ? e.extraFiles : []);
    case 'export-error':
      return s.exportFailed(e.message);
    case 'adapter-imported':
      s.updateSettings(e.settings);
      return s.adapterImported(e.trainableParams);
    case 'adapter-import-error':
      return s.importFailed(e.message);
    case 'held':
      return s.heldChanged(e.held);
    default:
      return unreachable(e);
  }
}
