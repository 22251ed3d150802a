import { useShallow } from 'zustand/react/shallow';
import type { Which } from '../../worker/protocol';
import { useStudio } from '../store/store';
import { NumberField, Row } from './Field';
import { ErrorText, Panel } from './Panel';

export function GeneratePanel() {
  const { settings, update, start, generating, error, hasModel, training, relora } = useStudio(
    useShallow((s) => ({
      settings: s.generationSettings, update: s.updateGenerationSettings, start: s.startGeneration, generating: s.generating,
      error: s.generationError, hasModel: s.model !== null, relora: s.trainedKind === 'relora', training: s.trainingStatus === 'running' || s.trainingStatus === 'starting',
    })),
  );
  return (
    <Panel title="6 · Generate" testId="generate-panel" wide>
      <textarea data-testid="prompt" rows={3} value={settings.prompt} onChange={(e) => update({ prompt: e.target.value })} />
      <Row>
        <NumberField label="Temperature (0 = greedy)" value={settings.temperature} min={0} step={0.1} onChange={(temperature) => update({ temperature })} testId="temperature" />
        <NumberField label="Top-k (0 = off)" value={settings.topK} min={0} onChange={(topK) => update({ topK })} testId="top-k" />
        <NumberField label="Max new tokens" value={settings.maxNewTokens} min={1} onChange={(maxNewTokens) => update({ maxNewTokens })} testId="max-tokens" />
        <NumberField label="Seed" value={settings.seed} onChange={(seed) => update({ seed })} />
        <button type="button" data-testid="generate" disabled={!hasModel || generating || training} onClick={start}>
          {generating ? 'Generating…' : 'Generate'}
        </button>
      </Row>
      {training && <p className="muted">Generation is available when training is paused or finished.</p>}
      <ErrorText message={error} />
      <div className="side-by-side">
        <Output which="base" title={relora ? 'Base model (as loaded, before training)' : 'Base model'} />
        <Output which="adapted" title={relora ? 'After ReLoRA (merged)' : 'With adapter'} />
      </div>
    </Panel>
  );
}

function Output({ which, title }: { which: Which; title: string }) {
  const out = useStudio((s) => s.outputs[which]);
  const prompt = useStudio((s) => s.generationSettings.prompt);
  return (
    <div className="output" data-testid={`output-${which}`} data-done={out.done}>
      <h3>{title} <span className="muted">{out.tokens} tokens{out.done ? '' : out.tokens > 0 ? '…' : ''}</span></h3>
      <pre>
        {out.tokens > 0 || out.done ? <span className="muted">{prompt}</span> : null}
        <span data-testid={`output-${which}-text`}>{out.text}</span>
      </pre>
    </div>
  );
}
