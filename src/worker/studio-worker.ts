/// <reference lib="webworker" />
/** The studio's Web Worker: owns the GPU, the model and training; talks only via protocol.ts. */
import { type StudioEvent, type StudioRequest, unreachable } from './protocol';
import { StudioSession } from './session';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (event: StudioEvent, transfer: Transferable[] = []) => scope.postMessage(event, transfer);
const session = new StudioSession(post);

scope.onmessage = (e: MessageEvent<StudioRequest>) => {
  void handle(e.data);
};

async function handle(req: StudioRequest): Promise<void> {
  switch (req.type) {
    case 'init':
      return session.init(req.profile, req.limits);
    case 'load-model':
      if (session.refuseDuringRun('model')) return;
      return session.loadModel(req.source);
    case 'load-dataset':
      if (session.refuseDuringRun('dataset')) return;
      return session.loadDataset(req.fileName, req.text, req.csvColumn, req.seqLen, req.valFraction, req.seed, req.options, req.maxSamples);
    case 'retokenize-dataset':
      if (session.refuseDuringRun('dataset')) return;
      return session.retokenize(req.seqLen, req.valFraction, req.seed, req.options, req.maxSamples);
    case 'train':
      return session.train(req.settings, req.continueAdapter, req.checkpointEvery);
    case 'resume-checkpoint':
      return session.resumeCheckpoint(req.checkpointEvery);
    case 'discard-checkpoint':
      return session.discardCheckpoint();
    case 'simulate-device-loss':
      return session.simulateDeviceLoss();
    case 'pause':
      return session.pause();
    case 'resume':
      return session.resume();
    case 'stop':
      return session.stop();
    case 'generate':
      return session.generate(req.settings);
    case 'export-adapter':
      return session.exportAdapter();
    case 'export-merged':
      return session.exportMerged();
    case 'import-adapter':
      return session.importAdapter(req.configText, req.weights, req.fileName);
    default:
      return unreachable(req);
  }
}
