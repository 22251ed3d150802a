import { formatBytes } from '../../train/memory';
import { useStudio } from '../store/store';

export function GpuHeader() {
  const status = useStudio((s) => s.gpuStatus);
  return (
    <header className="header">
      <h1>Fine-Tune Studio</h1>
      <div className="gpu" data-testid="gpu-info">
        {status.kind === 'checking' && <span>Checking WebGPU…</span>}
        {status.kind === 'ready' && (
          <>
            <span className="ok">WebGPU</span> <strong>{status.gpu.description}</strong>
            <span className="muted">
              {' '}
              · max binding {formatBytes(status.gpu.maxStorageBufferBindingSize)} · max buffer {formatBytes(status.gpu.maxBufferSize)}
              {status.gpu.features.length > 0 && ` · ${status.gpu.features.join(', ')}`}
            </span>
          </>
        )}
      </div>
    </header>
  );
}
