import { useShallow } from 'zustand/react/shallow';
import { linearModuleNames } from '../../engine/adapter-spec';
import type { ScheduleKind } from '../../engine/schedule';
import type { StudioMethod } from '../../worker/protocol';
import { useTrainingPlan } from '../plan';
import { useStudio } from '../store/store';
import { NumberField, Row } from './Field';
import { Panel } from './Panel';

const METHOD_LABEL: Record<StudioMethod, string> = { lora: 'LoRA', dora: 'DoRA', vera: 'VeRA', relora: 'ReLoRA' };

export function MethodPanel() {
  const { settings, update, model, locked } = useStudio(
    useShallow((s) => ({
      settings: s.settings, update: s.updateSettings, model: s.model,
      locked: s.trainingStatus === 'running' || s.trainingStatus === 'paused' || s.trainingStatus === 'starting',
    })),
  );
  const vera = settings.method === 'vera';
  const relora = settings.method === 'relora';
  return (
    <Panel title="3 · Method" testId="method-panel">
      <fieldset disabled={locked}>
        <Row>
          {(['lora', 'dora', 'vera', 'relora'] as const).map((m) => (
            <label key={m} className="radio">
              <input type="radio" name="method" value={m} checked={settings.method === m} onChange={() => update({ method: m })} data-testid={`method-${m}`} />
              {METHOD_LABEL[m]}
            </label>
          ))}
        </Row>
        <Row>
          <NumberField label="Rank r" value={settings.rank} min={1} onChange={(rank) => update({ rank })} testId="rank" />
          {!vera && <NumberField label="Alpha" value={settings.alpha} min={0.001} step={1} onChange={(alpha) => update({ alpha })} testId="alpha" />}
          {!vera && !relora && (
            <label className="field checkbox">
              <input type="checkbox" checked={settings.rslora} onChange={(e) => update({ rslora: e.target.checked })} /> <span>rsLoRA (α/√r)</span>
            </label>
          )}
          {!relora && <NumberField label="Dropout" value={settings.dropout} min={0} max={0.9} step={0.05} onChange={(dropout) => update({ dropout })} />}
        </Row>
        {relora ? <ReloraFields /> : model && <TargetModules />}
        <Row>
          <NumberField label="Learning rate" value={settings.lr} step={0.0001} min={0} onChange={(lr) => update({ lr })} testId="lr" />
          {!relora && <label className="field">
            <span>Schedule</span>
            <select value={settings.schedule} onChange={(e) => update({ schedule: e.target.value as ScheduleKind })} data-testid="schedule">
              <option value="constant">constant</option>
              <option value="linear">linear</option>
              <option value="cosine">cosine</option>
            </select>
          </label>}
          <NumberField label={relora ? 'First warmup steps' : 'Warmup steps'} value={settings.warmupSteps} min={0} onChange={(warmupSteps) => update({ warmupSteps })} testId="warmup-steps" />
        </Row>
        <Row>
          {!relora && <label className="field">
            <span>Train for</span>
            <select value={settings.durationUnit} onChange={(e) => update({ durationUnit: e.target.value as 'steps' | 'epochs' })} data-testid="duration-unit">
              <option value="steps">steps</option>
              <option value="epochs">epochs</option>
            </select>
          </label>}
          {relora || settings.durationUnit === 'steps' ? (
            <NumberField label="Steps" value={settings.steps} min={1} onChange={(steps) => update({ steps })} testId="steps" />
          ) : (
            <NumberField label="Epochs" value={settings.epochs} min={1} onChange={(epochs) => update({ epochs })} testId="epochs" />
          )}
          <NumberField label="Batch size" value={settings.batchSize} min={1} onChange={(batchSize) => update({ batchSize })} testId="batch-size" />
          {!relora && <NumberField label="Grad. accumulation" value={settings.gradAccum} min={1} onChange={(gradAccum) => update({ gradAccum })} testId="grad-accum" />}
          <NumberField label="Sequence length" value={settings.seqLen} min={2} onChange={(seqLen) => update({ seqLen })} testId="seq-len" />
          <NumberField label="Seed" value={settings.seed} onChange={(seed) => update({ seed })} testId="seed" />
          <NumberField label="Eval every (steps)" value={settings.evalEvery} min={1} onChange={(evalEvery) => update({ evalEvery })} testId="eval-every" />
        </Row>
      </fieldset>
      <TrainableCount />
    </Panel>
  );
}

/** ReLoRA's own parameters; it adapts every linear layer and brings its own lr schedule. */
function ReloraFields() {
  const { r, update } = useStudio(useShallow((s) => ({ r: s.settings.relora, update: s.updateRelora })));
  return (
    <div data-testid="relora-fields">
      <p className="muted">
        ReLoRA trains the model itself: a full-rank warm start, then rank-r LoRA on every linear layer (embeddings and norms keep training),
        merged into the weights and re-initialised every k steps, under a jagged cosine learning rate. It trains for a number of steps,
        one micro-batch per step (no epochs, no gradient accumulation), and leaves a merged model instead of a PEFT adapter.
      </p>
      <Row>
        <NumberField label="Warm-start steps (full rank)" value={r.warmStartSteps} min={0} onChange={(warmStartSteps) => update({ warmStartSteps })} testId="relora-warm-start" />
        <NumberField label="Reset every k steps" value={r.resetEvery} min={1} onChange={(resetEvery) => update({ resetEvery })} testId="relora-reset-every" />
        <NumberField label="Restart warmup steps" value={r.restartWarmupSteps} min={0} onChange={(restartWarmupSteps) => update({ restartWarmupSteps })} testId="relora-restart-warmup" />
        <label className="field">
          <span>Optimizer pruning</span>
          <select value={r.pruning} onChange={(e) => update({ pruning: e.target.value as 'random' | 'magnitude' })} data-testid="relora-pruning">
            <option value="random">random</option>
            <option value="magnitude">magnitude</option>
          </select>
        </label>
        <NumberField label="Pruning ratio" value={r.pruningRatio} min={0} max={1} step={0.001} onChange={(pruningRatio) => update({ pruningRatio })} testId="relora-pruning-ratio" />
        <NumberField label="Min lr ratio" value={r.minLrRatio} min={0} max={1} step={0.05} onChange={(minLrRatio) => update({ minLrRatio })} testId="relora-min-lr" />
      </Row>
    </div>
  );
}

function TargetModules() {
  const { config, targets, toggleTarget } = useStudio(useShallow((s) => ({ config: s.model!.config, targets: s.settings.targets, toggleTarget: s.toggleTarget })));
  return (
    <div className="targets" data-testid="target-modules">
      <span>Target modules</span>
      {linearModuleNames(config).map((name) => (
        <label key={name} className="checkbox">
          <input type="checkbox" checked={targets.includes(name)} onChange={() => toggleTarget(name)} data-testid={`target-${name}`} />
          {name}
        </label>
      ))}
    </div>
  );
}

function TrainableCount() {
  const plan = useTrainingPlan();
  const { method, rank, resetEvery, warmStart } = useStudio(
    useShallow((s) => ({ method: s.settings.method, rank: s.settings.rank, resetEvery: s.settings.relora.resetEvery, warmStart: s.settings.relora.warmStartSteps })),
  );
  const total = useStudio((s) => s.model?.parameterCount ?? 0);
  if (plan.settingsProblem) return <p className="warn" data-testid="trainable-count">{plan.settingsProblem}</p>;
  if (plan.trainable === null) return null;
  const percent = total > 0 ? ((plan.trainable / total) * 100).toFixed(2) : '0';
  if (method === 'relora') {
    return (
      <p className="trainable" data-testid="trainable-count">
        ReLoRA: {plan.trainable.toLocaleString('en-US')} trainable, {percent} % (full-rank warm start of {warmStart} steps with all{' '}
        {total.toLocaleString('en-US')}, then rank-{rank} LoRA on every linear merged every {resetEvery} steps)
      </p>
    );
  }
  return (
    <p className="trainable" data-testid="trainable-count">
      {METHOD_LABEL[method]}: {plan.trainable.toLocaleString('en-US')} trainable, {percent} %
    </p>
  );
}
