import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { App } from './components/App';
import { useStudio } from './store/store';
import { installTestHooks } from './test-hooks';
import { startWorker } from './worker-client';

/** The page checks for WebGPU itself first; the worker then checks it can get an adapter. */
if (!('gpu' in navigator) || !navigator.gpu) {
  useStudio.getState().setGpuStatus({ kind: 'unavailable', reason: 'this browser does not expose navigator.gpu' });
} else {
  startWorker(useStudio.getState);
  installTestHooks(useStudio.getState);
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
