import { useShallow } from 'zustand/react/shallow';
import { NAMED_CHAT_TEMPLATES, type ChatTemplateChoice, type NamedChatTemplate } from '../../data/chat-template';
import type { LengthStats } from '../../data/lengths';
import { delimiterName } from '../../data/types';
import type { PreviewStatus } from '../../worker/protocol';
import { DATASET_LOCKED, SAMPLE_DATASETS } from '../store/dataset-slice';
import { useStudio } from '../store/store';
import { isRunActive } from '../store/training-slice';
import { DropZone } from './DropZone';
import { ErrorText, Panel } from './Panel';

export function DatasetPanel() {
  const { dataset, error, loading, hasModel, locked, loadDatasetFile, loadSample } = useStudio(
    useShallow((s) => ({
      dataset: s.dataset,
      error: s.datasetError,
      loading: s.datasetLoading,
      hasModel: s.model !== null,
      locked: isRunActive(s.trainingStatus),
      loadDatasetFile: s.loadDatasetFile,
      loadSample: s.loadSampleDataset,
    })),
  );
  const pick = (files: readonly File[]) => {
    if (files[0]) void loadDatasetFile(files[0]);
  };
  return (
    <Panel title="2 · Dataset" testId="dataset-panel">
      <DropZone onFiles={(files) => pick(files.map((f) => f.file))} testId="dataset-drop" disabled={locked}>
        <p>.txt (packed into sequences), .jsonl / .json with text, prompt + completion, Alpaca or chat messages, or .csv.</p>
        <label className={hasModel && !locked ? 'button' : 'button disabled'}>
          Upload dataset…
          <input
            type="file"
            hidden
            accept=".txt,.jsonl,.json,.csv"
            data-testid="dataset-input"
            disabled={!hasModel || locked}
            onChange={(e) => {
              pick([...(e.target.files ?? [])]);
              e.target.value = '';
            }}
          />
        </label>{' '}
        <label className="sample-picker">
          or use a sample dataset{' '}
          <select
            data-testid="sample-dataset"
            value=""
            disabled={!hasModel || locked}
            onChange={(e) => {
              if (e.target.value) void loadSample(e.target.value);
            }}
          >
            <option value="">choose…</option>
            {SAMPLE_DATASETS.map((d) => (
              <option key={d.file} value={d.file}>
                {d.label}
              </option>
            ))}
          </select>
        </label>
        {locked && (
          <p className="warn" data-testid="dataset-locked">
            {DATASET_LOCKED}
          </p>
        )}
      </DropZone>
      {loading && <p className="muted">Reading…</p>}
      {error !== DATASET_LOCKED && <ErrorText message={error} />}
      {dataset && <DatasetSummaryView />}
    </Panel>
  );
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

const TEMPLATE_CHOICES = Object.entries(NAMED_CHAT_TEMPLATES) as [NamedChatTemplate, (typeof NAMED_CHAT_TEMPLATES)[NamedChatTemplate]][];

function DatasetSummaryView() {
  const locked = useStudio((s) => isRunActive(s.trainingStatus));
  const { dataset, chooseCsvColumn, options, setOptions, seqLenNote, hasChatTemplate } = useStudio(
    useShallow((s) => ({
      dataset: s.dataset!,
      chooseCsvColumn: s.chooseCsvColumn,
      options: s.datasetOptions,
      setOptions: s.setDatasetOptions,
      seqLenNote: s.seqLenNote,
      hasChatTemplate: s.model?.hasChatTemplate ?? false,
    })),
  );
  const { badRows, tooLong, lengths } = dataset;
  return (
    <div data-testid="dataset-summary">
      <p>
        <strong>{dataset.fileName}</strong> ({dataset.format}
        {dataset.csvDelimiter !== undefined && (
          <span data-testid="csv-delimiter">
            ,{' '}
            {dataset.csvDelimiter === null ? 'one column: no delimiter in the header' : `${delimiterName(dataset.csvDelimiter)}-separated`}
          </span>
        )}
        ): <span data-testid="dataset-examples">{dataset.examples}</span> example
        {dataset.examples === 1 ? '' : 's'}, {dataset.totalTokens.toLocaleString('en-US')} tokens →{' '}
        <span data-testid="train-sequences">{dataset.trainSequences}</span> training and{' '}
        <span data-testid="val-sequences">{dataset.valSequences}</span> validation sequences of ≤ {dataset.seqLen} tokens
        {dataset.truncated > 0 && `, ${dataset.truncated} truncated`}.
      </p>
      {seqLenNote && seqLenNote.seqLen === dataset.seqLen && seqLenNote.p95 === lengths?.p95 && (
        <p className="muted" data-testid="seq-len-note">
          {seqLenNote.text}
        </p>
      )}
      {dataset.columns.length > 0 && (
        <label>
          Text column{' '}
          <select data-testid="csv-column" value={dataset.column ?? ''} disabled={locked} onChange={(e) => chooseCsvColumn(e.target.value)}>
            {dataset.columns.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
      )}
      <p data-testid="bad-rows" className={badRows.length > 0 ? 'warn' : 'muted'}>
        {plural(badRows.length, 'bad row')}
        {badRows.length > 0 && ' (malformed, not used):'}
      </p>
      {badRows.length > 0 && <RowList rows={badRows} />}
      {tooLong.length > 0 && (
        <>
          <p data-testid="too-long-rows" className="warn">
            {plural(tooLong.length, 'row')} too long for {dataset.seqLen} tokens (not used): the prompt leaves no room for the answer. A
            longer sequence or truncating prompts from the left keeps {tooLong.length === 1 ? 'it' : 'them'}.
          </p>
          <RowList rows={tooLong} />
        </>
      )}
      {lengths && <LengthView lengths={lengths} seqLen={dataset.seqLen} locked={locked} />}
      {(lengths || dataset.hasChat) && (
        <div className="row">
          {lengths && (
            <label
              className="checkbox"
              title="A row longer than the sequence length loses the start of its prompt instead of the end of its answer (or the whole row)"
            >
              <input
                type="checkbox"
                data-testid="truncate-prompt-left"
                checked={options.truncation === 'prompt-left'}
                disabled={locked}
                onChange={(e) => setOptions({ truncation: e.target.checked ? 'prompt-left' : 'right' })}
              />
              Truncate long prompts from the left (keep the answer)
            </label>
          )}
          {dataset.hasChat && (
            <label className="field">
              Chat template
              <select
                data-testid="chat-template"
                value={options.chatTemplate}
                disabled={locked}
                onChange={(e) => setOptions({ chatTemplate: e.target.value as ChatTemplateChoice })}
              >
                <option value="model">{hasChatTemplate ? "The model's own" : "The studio's default (the model has none)"}</option>
                {TEMPLATE_CHOICES.map(([value, t]) => (
                  <option key={value} value={value}>
                    {t.label}
                  </option>
                ))}
              </select>
            </label>
          )}
        </div>
      )}
      <table className="preview" data-testid="dataset-preview">
        <thead>
          <tr>
            <th>Example (prompt, then what is learned)</th>
            <th>Prompt tokens (masked)</th>
            <th>Learned tokens</th>
          </tr>
        </thead>
        <tbody>
          {dataset.preview.map((p, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: the preview is replaced whole, never reordered
            <tr key={i} data-status={p.status}>
              <td>
                {p.status !== 'fits' && (
                  <div className="preview-mark">
                    row {p.row} · {STATUS_LABEL[p.status]}
                    {p.note && `: ${p.note}`}
                  </div>
                )}
                {p.prompt !== '' && (
                  <pre className="preview-prompt" data-testid="preview-prompt">
                    {p.prompt}
                  </pre>
                )}
                <pre className="preview-answer" data-testid="preview-answer">
                  {p.answer}
                </pre>
              </td>
              <td>{p.promptTokens}</td>
              <td>{p.completionTokens}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const STATUS_LABEL: Readonly<Record<PreviewStatus, string>> = {
  fits: 'fits',
  truncated: 'truncated',
  'too-long': 'not used, too long',
  bad: 'not used',
};

function RowList({ rows }: { rows: readonly { row: number; reason: string }[] }) {
  return (
    <ul className="bad-rows">
      {rows.slice(0, 8).map((b) => (
        <li key={`${b.row}-${b.reason}`}>
          row {b.row}: {b.reason}
        </li>
      ))}
      {rows.length > 8 && <li>… and {rows.length - 8} more</li>}
    </ul>
  );
}

/** Percentiles and a small histogram of the rows' token lengths; bars past the sequence length are amber. */
function LengthView({ lengths, seqLen, locked }: { lengths: LengthStats; seqLen: number; locked: boolean }) {
  const updateSettings = useStudio((s) => s.updateSettings);
  const top = Math.max(...lengths.bins.map((b) => b.count));
  return (
    <div className="lengths" data-testid="length-stats">
      <p>
        Tokens per row (prompt + answer): min {lengths.min} · median {lengths.median} · max {lengths.max}.{' '}
        <strong>95 % of rows fit in {lengths.p95} tokens</strong>
        {lengths.suggestedSeqLen !== seqLen && (
          <>
            {' '}
            <button
              type="button"
              className="small"
              data-testid="use-suggested-seq-len"
              disabled={locked}
              onClick={() => updateSettings({ seqLen: lengths.suggestedSeqLen })}
            >
              Use sequence length {lengths.suggestedSeqLen}
            </button>
          </>
        )}
      </p>
      <div className="histogram" data-testid="length-histogram" role="img" aria-label="rows by token length">
        {lengths.bins.map((b) => (
          <div
            key={b.from}
            data-count={b.count}
            className={b.to > seqLen ? 'over' : undefined}
            style={{ height: `${top === 0 ? 0 : Math.max(2, (100 * b.count) / top)}%` }}
            title={`${b.from}–${b.to} tokens: ${plural(b.count, 'row')}`}
          />
        ))}
      </div>
      <div className="histogram-axis muted">
        <span>{lengths.min}</span>
        <span>
          {lengths.bins.some((b) => b.to > seqLen) ? `amber: longer than the sequence length (${seqLen})` : `all rows fit ${seqLen} tokens`}
        </span>
        <span>{lengths.max} tokens</span>
      </div>
    </div>
  );
}
