import { useShallow } from 'zustand/react/shallow';
import { linearModuleNames } from '../../engine/adapter-spec';
import type { ScheduleKind } from '../../engine/schedule';
import type { AdapterMethod } from '../../formats/peft';
import { useTrainingPlan } from '../plan';
import { useStudio } from '../store/store';
import { NumberField, Row } from './Field';
import { Panel } from './Panel';

const METHOD_LABEL: Record<AdapterMethod, string> = { lora: 'LoRA', dora: 'DoRA', vera: 'VeRA' };

export function MethodPanel() {
  const { settings, update, model, locked } = useStudio(
    useShallow((s) => ({
      settings: s.settings, update: s.updateSettings, model: s.model,
      locked: s.trainingStatus === 'running' || s.trainingStatus === 'paused' || s.trainingStatus === 'starting',
    })),
  );
  const vera = settings.method === 'vera';
  return (
    <Panel title="3 · Method" testId="method-panel">
      <fieldset disabled={locked}>
        <Row>
          {(['lora', 'dora', 'vera'] as const).map((m) => (
            <label key={m} className="radio">
              <input type="radio" name="method" value={m} checked={settings.method === m} onChange={() => update({ method: m })} data-testid={`method-${m}`} />
              {METHOD_LABEL[m]}
            </label>
          ))}
        </Row>
        <Row>
          <NumberField label="Rank r" value={settings.rank} min={1} onChange={(rank) => update({ rank })} testId="rank" />
          {!vera && <NumberField label="Alpha" value={settings.alpha} min={0.001} step={1} onChange={(alpha) => update({ alpha })} testId="alpha" />}
          {!vera && (
            <label className="field checkbox">
              <input type="checkbox" checked={settings.rslora} onChange={(e) => update({ rslora: e.target.checked })} /> <span>rsLoRA (α/√r)</span>
            </label>
          )}
          <NumberField label="Dropout" value={settings.dropout} min={0} max={0.9} step={0.05} onChange={(dropout) => update({ dropout })} />
        </Row>
        {model && <TargetModules />}
        <Row>
          <NumberField label="Learning rate" value={settings.lr} step={0.0001} min={0} onChange={(lr) => update({ lr })} testId="lr" />
          <label className="field">
            <span>Schedule</span>
            <select value={settings.schedule} onChange={(e) => update({ schedule: e.target.value as ScheduleKind })} data-testid="schedule">
              <option value="constant">constant</option>
              <option value="linear">linear</option>
              <option value="cosine">cosine</option>
            </select>
          </label>
          <NumberField label="Warmup steps" value={settings.warmupSteps} min={0} onChange={(warmupSteps) => update({ warmupSteps })} />
        </Row>
        <Row>
          <label className="field">
            <span>Train for</span>
            <select value={settings.durationUnit} onChange={(e) => update({ durationUnit: e.target.value as 'steps' | 'epochs' })} data-testid="duration-unit">
              <option value="steps">steps</option>
              <option value="epochs">epochs</option>
            </select>
          </label>
          {settings.durationUnit === 'steps' ? (
            <NumberField label="Steps" value={settings.steps} min={1} onChange={(steps) => update({ steps })} testId="steps" />
          ) : (
            <NumberField label="Epochs" value={settings.epochs} min={1} onChange={(epochs) => update({ epochs })} testId="epochs" />
          )}
          <NumberField label="Batch size" value={settings.batchSize} min={1} onChange={(batchSize) => update({ batchSize })} testId="batch-size" />
          <NumberField label="Grad. accumulation" value={settings.gradAccum} min={1} onChange={(gradAccum) => update({ gradAccum })} testId="grad-accum" />
          <NumberField label="Sequence length" value={settings.seqLen} min={2} onChange={(seqLen) => update({ seqLen })} testId="seq-len" />
          <NumberField label="Seed" value={settings.seed} onChange={(seed) => update({ seed })} testId="seed" />
          <NumberField label="Eval every (steps)" value={settings.evalEvery} min={1} onChange={(evalEvery) => update({ evalEvery })} testId="eval-every" />
        </Row>
      </fieldset>
      <TrainableCount />
    </Panel>
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
  const method = useStudio((s) => s.settings.method);
  const total = useStudio((s) => s.model?.parameterCount ?? 0);
  if (plan.settingsProblem) return <p className="warn" data-testid="trainable-count">{plan.settingsProblem}</p>;
  if (plan.trainable === null) return null;
  const percent = total > 0 ? ((plan.trainable / total) * 100).toFixed(2) : '0';
  return (
    <p className="trainable" data-testid="trainable-count">
      {METHOD_LABEL[method]}: {plan.trainable.toLocaleString('en-US')} trainable, {percent} %
    </p>
  );
}
