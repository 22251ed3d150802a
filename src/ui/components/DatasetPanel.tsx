import { useShallow } from 'zustand/react/shallow';
import { SAMPLE_DATASETS } from '../store/dataset-slice';
import { useStudio } from '../store/store';
import { DropZone } from './DropZone';
import { ErrorText, Panel } from './Panel';

export function DatasetPanel() {
  const { dataset, error, loading, hasModel, loadDatasetFile, loadSample } = useStudio(
    useShallow((s) => ({
      dataset: s.dataset, error: s.datasetError, loading: s.datasetLoading, hasModel: s.model !== null,
      loadDatasetFile: s.loadDatasetFile, loadSample: s.loadSampleDataset,
    })),
  );
  const pick = (files: readonly File[]) => {
    if (files[0]) void loadDatasetFile(files[0]);
  };
  return (
    <Panel title="2 · Dataset" testId="dataset-panel">
      <DropZone onFiles={(files) => pick(files.map((f) => f.file))} testId="dataset-drop">
        <p>.txt (packed into sequences), .jsonl / .json with text, prompt + completion, Alpaca or chat messages, or .csv.</p>
        <label className={hasModel ? 'button' : 'button disabled'}>
          Upload dataset…
          <input
            type="file" hidden accept=".txt,.jsonl,.json,.csv" data-testid="dataset-input" disabled={!hasModel}
            onChange={(e) => {
              pick([...(e.target.files ?? [])]);
              e.target.value = '';
            }}
          />
        </label>{' '}
        <label className="sample-picker">
          or use a sample dataset{' '}
          <select
            data-testid="sample-dataset" value="" disabled={!hasModel}
            onChange={(e) => {
              if (e.target.value) void loadSample(e.target.value);
            }}
          >
            <option value="">choose…</option>
            {SAMPLE_DATASETS.map((d) => <option key={d.file} value={d.file}>{d.label}</option>)}
          </select>
        </label>
      </DropZone>
      {loading && <p className="muted">Reading…</p>}
      <ErrorText message={error} />
      {dataset && <DatasetSummaryView />}
    </Panel>
  );
}

function DatasetSummaryView() {
  const dataset = useStudio((s) => s.dataset)!;
  const chooseCsvColumn = useStudio((s) => s.chooseCsvColumn);
  return (
    <div data-testid="dataset-summary">
      <p>
        <strong>{dataset.fileName}</strong> ({dataset.format}): <span data-testid="dataset-examples">{dataset.examples}</span> examples,{' '}
        {dataset.totalTokens.toLocaleString('en-US')} tokens → <span data-testid="train-sequences">{dataset.trainSequences}</span> training and{' '}
        <span data-testid="val-sequences">{dataset.valSequences}</span> validation sequences of ≤ {dataset.seqLen} tokens
        {dataset.truncated > 0 && `, ${dataset.truncated} truncated`}.
      </p>
      {dataset.columns.length > 0 && (
        <label>
          Text column{' '}
          <select data-testid="csv-column" value={dataset.column ?? ''} onChange={(e) => chooseCsvColumn(e.target.value)}>
            {dataset.columns.map((c) => <option key={c} value={c}>{c}</option>)}
          </select>
        </label>
      )}
      <p data-testid="bad-rows" className={dataset.badRows.length > 0 ? 'warn' : 'muted'}>
        {dataset.badRows.length} bad row{dataset.badRows.length === 1 ? '' : 's'}
        {dataset.badRows.length > 0 && ' (not used):'}
      </p>
      {dataset.badRows.length > 0 && (
        <ul className="bad-rows">
          {dataset.badRows.slice(0, 8).map((b) => <li key={`${b.row}-${b.reason}`}>row {b.row}: {b.reason}</li>)}
          {dataset.badRows.length > 8 && <li>… and {dataset.badRows.length - 8} more</li>}
        </ul>
      )}
      <table className="preview" data-testid="dataset-preview">
        <thead>
          <tr><th>Example</th><th>Prompt tokens (masked)</th><th>Learned tokens</th></tr>
        </thead>
        <tbody>
          {dataset.preview.map((p, i) => (
            <tr key={i}><td><pre>{p.text}</pre></td><td>{p.promptTokens}</td><td>{p.completionTokens}</td></tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
