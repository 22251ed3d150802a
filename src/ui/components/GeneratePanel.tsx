import { useShallow } from 'zustand/react/shallow';
import { stopNote } from '../../worker/generation-text';
import type { HeldResult, Which } from '../../worker/protocol';
import { useStudio } from '../store/store';
import { heldName, isRunActive } from '../store/training-slice';
import { NumberField, Row } from './Field';
import { ErrorText, Panel } from './Panel';

export function GeneratePanel() {
  const { settings, update, start, generating, error, hasModel, hasChatTemplate, training, relora } = useStudio(
    useShallow((s) => ({
      settings: s.generationSettings,
      update: s.updateGenerationSettings,
      start: s.startGeneration,
      generating: s.generating,
      error: s.generationError,
      hasModel: s.model !== null,
      hasChatTemplate: s.model?.hasChatTemplate ?? false,
      relora: s.trainedKind === 'relora',
      // A paused run still holds the worker's GPU queue, so generation waits for the run to end.
      training: isRunActive(s.trainingStatus),
    })),
  );
  return (
    <Panel title="6 · Generate" testId="generate-panel" wide>
      <textarea data-testid="prompt" rows={3} value={settings.prompt} onChange={(e) => update({ prompt: e.target.value })} />
      <Row>
        {hasChatTemplate && (
          <label
            className="field checkbox"
            title="Render the prompt as one user turn with the tokenizer's chat template; generation stops at the end of the model's turn"
          >
            <input
              type="checkbox"
              checked={settings.useChatTemplate}
              onChange={(e) => update({ useChatTemplate: e.target.checked })}
              data-testid="use-chat-template"
            />{' '}
            <span>Use chat template</span>
          </label>
        )}
        <NumberField
          label="Temperature (0 = greedy)"
          value={settings.temperature}
          min={0}
          step={0.1}
          onChange={(temperature) => update({ temperature })}
          testId="temperature"
        />
        <NumberField label="Top-k (0 = off)" value={settings.topK} min={0} onChange={(topK) => update({ topK })} testId="top-k" />
        <NumberField
          label="Max new tokens"
          value={settings.maxNewTokens}
          min={1}
          onChange={(maxNewTokens) => update({ maxNewTokens })}
          testId="max-tokens"
        />
        <NumberField label="Seed" value={settings.seed} onChange={(seed) => update({ seed })} />
        <button type="button" data-testid="generate" disabled={!hasModel || generating || training} onClick={start}>
          {generating ? 'Generating…' : 'Generate'}
        </button>
      </Row>
      {training && (
        <p className="muted" data-testid="generate-locked">
          Generation is available when the run is stopped or finished.
        </p>
      )}
      <ErrorText message={error} />
      <div className="side-by-side">
        <Output which="base" title={relora ? 'Base model (as loaded, before training)' : 'Base model'} />
        <Output which="adapted" title={adaptedTitle} />
      </div>
    </Panel>
  );
}

/** The adapted side is named after what its text came from (what the worker held when it was generated). */
function adaptedTitle(from: HeldResult | null): string {
  if (!from) return 'With adapter';
  return from.kind === 'relora' ? 'After ReLoRA (merged)' : `With ${heldName(from)}`;
}

function Output({ which, title }: { which: Which; title: string | ((from: HeldResult | null) => string) }) {
  const out = useStudio((s) => s.outputs[which]);
  const from = useStudio((s) => (s.outputs[which].tokens > 0 || s.outputs[which].done ? s.outputsFrom : s.held));
  const heading = typeof title === 'function' ? title(from) : title;
  const note = out.done ? stopNote(out.stop, out.tokens) : null;
  return (
    <div
      className="output"
      data-testid={`output-${which}`}
      data-done={out.done}
      data-tokens={out.tokens}
      data-stop={out.stop?.reason ?? ''}
    >
      <h3>
        {heading}{' '}
        <span className="muted">
          {out.tokens} {out.tokens === 1 ? 'token' : 'tokens'}
          {out.done ? '' : out.tokens > 0 ? '…' : ''}
        </span>
      </h3>
      <pre>
        {out.tokens > 0 || out.done ? (
          <span className="muted" data-testid={`output-${which}-prompt`}>
            {out.promptText}
          </span>
        ) : null}
        <span data-testid={`output-${which}-text`}>{out.text}</span>
      </pre>
      {note && (
        <p
          className={out.stop?.reason === 'end-of-turn' || out.stop?.reason === 'eos' ? 'stop-note ok-note' : 'stop-note'}
          data-testid={`output-${which}-stop`}
        >
          {note}
        </p>
      )}
    </div>
  );
}
