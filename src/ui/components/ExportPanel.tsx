import { useShallow } from 'zustand/react/shallow';
import { useStudio } from '../store/store';
import { isRunActive } from '../store/training-slice';
import { ErrorText, Panel } from './Panel';

export function ExportPanel() {
  const s = useStudio(
    useShallow((s) => ({
      hasAdapter: s.hasAdapter,
      relora: s.trainedKind === 'relora',
      pending: s.pendingDownload,
      exportError: s.exportError,
      importError: s.importError,
      request: s.requestDownload,
      importFiles: s.importAdapterFiles,
      hasModel: s.model !== null,
      // A paused run still holds the worker's GPU queue: a download asked for now would wait for the run to end.
      busy: isRunActive(s.trainingStatus),
    })),
  );
  const disabled = !s.hasAdapter || s.pending !== null || s.busy;
  return (
    <Panel title="7 · Export and import" testId="export-panel" wide>
      {s.relora ? (
        <>
          <p className="muted">
            ReLoRA merged every update into the model itself, so there is no PEFT adapter: download the trained model (Hugging Face keys)
            with its config.json and tokenizer files.
          </p>
          <div className="row">
            <button type="button" data-testid="download-merged-zip" disabled={disabled} onClick={() => s.request('merged-zip')}>
              Download merged model (.zip)
            </button>
            <button type="button" data-testid="download-merged" disabled={disabled} onClick={() => s.request('merged')}>
              model.safetensors
            </button>
            <button type="button" data-testid="download-merged-config" disabled={disabled} onClick={() => s.request('merged-config')}>
              config.json
            </button>
          </div>
        </>
      ) : (
        <div className="row">
          <button type="button" data-testid="download-zip" disabled={disabled} onClick={() => s.request('zip')}>
            Download adapter (.zip)
          </button>
          <button type="button" data-testid="download-weights" disabled={disabled} onClick={() => s.request('adapter-weights')}>
            adapter_model.safetensors
          </button>
          <button type="button" data-testid="download-config" disabled={disabled} onClick={() => s.request('adapter-config')}>
            adapter_config.json
          </button>
          <button
            type="button"
            data-testid="download-merged-zip"
            disabled={disabled}
            onClick={() => s.request('merged-zip')}
            title="config.json, model.safetensors and the tokenizer files: a Hugging Face folder that loads as it is"
          >
            Merged model (.zip)
          </button>
          <button type="button" data-testid="download-merged" disabled={disabled} onClick={() => s.request('merged')}>
            Merged model.safetensors
          </button>
        </div>
      )}
      <ErrorText message={s.exportError} />
      <p>
        Import a PEFT adapter (adapter_config.json + adapter_model.safetensors, under any names, or the adapter .zip) to generate with it or
        continue training:{' '}
        <label className={s.hasModel ? 'button' : 'button disabled'}>
          Import adapter…
          <input
            type="file"
            hidden
            multiple
            accept=".json,.safetensors,.zip"
            data-testid="adapter-import"
            disabled={!s.hasModel}
            onChange={(e) => {
              void s.importFiles([...(e.target.files ?? [])]);
              e.target.value = '';
            }}
          />
        </label>
      </p>
      <ErrorText message={s.importError} />
    </Panel>
  );
}
