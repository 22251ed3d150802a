import { useShallow } from 'zustand/react/shallow';
import { stopNote } from '../../worker/generation-text';
import type { Which } from '../../worker/protocol';
import { useStudio } from '../store/store';
import { NumberField, Row } from './Field';
import { ErrorText, Panel } from './Panel';

export function GeneratePanel() {
  const { settings, update, start, generating, error, hasModel, hasChatTemplate, training, relora } = useStudio(
    useShallow((s) => ({
      settings: s.generationSettings, update: s.updateGenerationSettings, start: s.startGeneration, generating: s.generating,
      error: s.generationError, hasModel: s.model !== null, hasChatTemplate: s.model?.hasChatTemplate ?? false, relora: s.trainedKind === 'relora',
      training: s.trainingStatus === 'running' || s.trainingStatus === 'starting',
    })),
  );
  return (
    <Panel title="6 · Generate" testId="generate-panel" wide>
      <textarea data-testid="prompt" rows={3} value={settings.prompt} onChange={(e) => update({ prompt: e.target.value })} />
      <Row>
        {hasChatTemplate && (
          <label className="field checkbox" title="Render the prompt as one user turn with the tokenizer's chat template; generation stops at the end of the model's turn">
            <input type="checkbox" checked={settings.useChatTemplate} onChange={(e) => update({ useChatTemplate: e.target.checked })} data-testid="use-chat-template" />{' '}
            <span>Use chat template</span>
          </label>
        )}
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
  const note = out.done ? stopNote(out.stop, out.tokens) : null;
  return (
    <div className="output" data-testid={`output-${which}`} data-done={out.done} data-tokens={out.tokens} data-stop={out.stop?.reason ?? ''}>
      <h3>{title} <span className="muted">{out.tokens} {out.tokens === 1 ? 'token' : 'tokens'}{out.done ? '' : out.tokens > 0 ? '…' : ''}</span></h3>
      <pre>
        {out.tokens > 0 || out.done ? <span className="muted" data-testid={`output-${which}-prompt`}>{out.promptText}</span> : null}
        <span data-testid={`output-${which}-text`}>{out.text}</span>
      </pre>
      {note && <p className={out.stop?.reason === 'end-of-turn' || out.stop?.reason === 'eos' ? 'stop-note ok-note' : 'stop-note'} data-testid={`output-${which}-stop`}>{note}</p>}
    </div>
  );
}
