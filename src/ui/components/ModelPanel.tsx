import { useShallow } from 'zustand/react/shallow';
import { formatBytes } from '../../train/memory';
import type { ModelConfig } from '../../formats/hf-config';
import { useTrainingPlan } from '../plan';
/** What the bundled models are, shown beside their name. */
const BUNDLED_NOTES: Readonly<Record<string, string>> = {
  'kjv-tiny': 'bundled · pretrained on the King James Bible with ReLoRA',
  'dev-tiny': 'bundled · random-initialised development model',
};
import { MODEL_LOCKED } from '../store/model-slice';
import { useStudio } from '../store/store';
import { isRunActive } from '../store/training-slice';
import { DropZone, pickedFiles } from './DropZone';
import { ErrorText, Panel } from './Panel';

export function ModelPanel() {
  const { model, status, loadingName, error, loadModelFiles, loadBundledModel, locked } = useStudio(
    useShallow((s) => ({
      model: s.model,
      status: s.modelStatus,
      loadingName: s.modelLoadingName,
      error: s.modelError,
      loadModelFiles: s.loadModelFiles,
      loadBundledModel: s.loadBundledModel,
      locked: isRunActive(s.trainingStatus),
    })),
  );
  const onInput = (e: React.ChangeEvent<HTMLInputElement>) => {
    loadModelFiles(pickedFiles(e.target.files));
    e.target.value = '';
  };
  return (
    <Panel title="1 · Model" testId="model-panel">
      {loadingName && <p className="muted">Loading {loadingName}…</p>}
      {model && <ModelFacts />}
      {status === 'none' && !loadingName && <p className="muted">Waiting for WebGPU…</p>}
      {error !== MODEL_LOCKED && <ErrorText message={error} />}
      <DropZone onFiles={loadModelFiles} testId="model-drop" disabled={locked}>
        <p>Drop a Hugging Face model folder here (config.json, model.safetensors or shards + index, tokenizer.json), or</p>
        <label className={locked ? 'button disabled' : 'button'}>
          Open folder…
          <input
            type="file"
            hidden
            data-testid="model-folder-input"
            disabled={locked}
            onChange={onInput}
            {...{ webkitdirectory: '', directory: '' }}
          />
        </label>{' '}
        <label className={locked ? 'button disabled' : 'button'}>
          Pick files…
          <input type="file" hidden multiple data-testid="model-files-input" disabled={locked} onChange={onInput} />
        </label>{' '}
        <button type="button" disabled={locked} onClick={loadBundledModel}>
          Use bundled model
        </button>
        {locked && (
          <p className="warn" data-testid="model-locked">
            {MODEL_LOCKED}
          </p>
        )}
      </DropZone>
    </Panel>
  );
}

/** config.json's model_type as written (gemma3_text, not the engine's family name). */
function modelType(c: ModelConfig): string {
  return typeof c.raw.model_type === 'string' ? c.raw.model_type : c.family;
}

/** What sets this family apart from a plain Llama, as the engine runs it. */
function familyTraits(c: ModelConfig): string[] {
  const t: string[] = [];
  if (c.qkvBias) t.push('q/k/v biases');
  if (c.qkNorm) t.push('q/k norms');
  if (c.sandwichNorms) t.push('four norms a layer');
  if (c.normWeightOffset === 1) t.push('(1 + w) norms');
  if (c.activation === 'gelu_tanh') t.push('GeGLU');
  const sliding = c.layerTypes.filter((l) => l === 'sliding').length;
  if (sliding > 0) t.push(`sliding window ${c.slidingWindow} on ${sliding} of ${c.numLayers} layers`);
  if (c.ropeScaling) t.push(`${c.ropeScaling.type} RoPE scaling ×${c.ropeScaling.factor}`);
  if (c.arch === 'llama' && c.tieWordEmbeddings) t.push('tied embeddings');
  return t;
}

function ModelFacts() {
  const model = useStudio((s) => s.model)!;
  const plan = useTrainingPlan();
  const c = model.config;
  return (
    <>
      <dl className="facts" data-testid="model-facts">
        <dt>Name</dt>
        <dd>
          <span data-testid="model-name">{model.name}</span>
          {BUNDLED_NOTES[model.name] && <span className="muted"> ({BUNDLED_NOTES[model.name]})</span>}
        </dd>
        <dt>Family</dt>
        <dd>
          <span data-testid="model-family">{modelType(model.config)}</span> ·{' '}
          <span data-testid="model-architecture">{model.architecture}</span>
          {familyTraits(c).length > 0 && (
            <span className="muted" data-testid="model-traits">
              {' '}
              ({familyTraits(c).join(', ')})
            </span>
          )}
        </dd>
        <dt>Shape</dt>
        <dd data-testid="model-shape">
          {c.numLayers} layers · hidden {c.hiddenSize} · {c.numHeads} heads × {c.headDim} ({c.numKvHeads} kv) · MLP {c.intermediateSize} ·
          vocab {c.vocabSize} · {c.maxPositions} positions
        </dd>
        <dt>Parameters</dt>
        <dd data-testid="model-params">{model.parameterCount.toLocaleString('en-US')}</dd>
        <dt>Chat template</dt>
        <dd>{model.hasChatTemplate ? "the tokenizer's own" : 'none (the default template is used)'}</dd>
        {plan.memory && plan.budget && (
          <>
            <dt>GPU memory</dt>
            <dd data-testid="memory-estimate">
              ≈ {formatBytes(plan.memory.total)} for training (weights {formatBytes(plan.memory.weights)}, adapter + optimizer{' '}
              {formatBytes(plan.memory.adapter)}, activations {formatBytes(plan.memory.activations)}) of{' '}
              {formatBytes(plan.budget.totalBytes)} budget; largest buffer {formatBytes(plan.memory.largestBuffer)} of{' '}
              {formatBytes(plan.budget.maxStorageBufferBindingSize)} allowed
            </dd>
          </>
        )}
      </dl>
      {plan.fitProblem && (
        <p className="error" role="alert" data-testid="fit-problem">
          This run will not fit: {plan.fitProblem}.
        </p>
      )}
    </>
  );
}
