import { useShallow } from 'zustand/react/shallow';
import { linearModuleNames } from '../../train/adapter-spec';
import type { ScheduleKind } from '../../train/schedule';
import type { TrainSettings } from '../../worker/protocol';
import { formatOf, METHOD_LABEL, METHODS, type SettingsField, type SettingsIssue } from '../../worker/settings-validation';
import { useTrainingPlan } from '../plan';
import { saveSettingsFile } from '../settings-file';
import { checkpointEveryProblem } from '../store/settings-slice';
import { useStudio } from '../store/store';
import { NumberField, Row } from './Field';
import { Panel } from './Panel';

/** The reason a field is invalid, or null. */
function errorOf(issues: readonly SettingsIssue[], field: SettingsField): string | null {
  return issues.find((i) => i.field === field)?.message ?? null;
}

export function MethodPanel() {
  const { settings, update, chooseMethod, model, locked, hint } = useStudio(
    useShallow((s) => ({
      settings: s.settings,
      update: s.updateSettings,
      chooseMethod: s.chooseMethod,
      model: s.model,
      hint: s.methodHint,
      locked: s.trainingStatus === 'running' || s.trainingStatus === 'paused' || s.trainingStatus === 'starting',
    })),
  );
  const { issues } = useTrainingPlan();
  const err = (field: SettingsField) => errorOf(issues, field);
  /** A number setting: marked with its reason when invalid; an emptied field is NaN ("enter a number"). */
  const num = <K extends keyof TrainSettings>(
    key: K & SettingsField,
    label: string,
    testId: string | undefined,
    extra: { step?: number; min?: number; max?: number; title?: string } = {},
  ) => (
    <NumberField
      label={label}
      value={settings[key] as number}
      onChange={(v) => update({ [key]: v } as Partial<TrainSettings>)}
      testId={testId}
      error={err(key)}
      reportEmpty
      {...extra}
    />
  );
  const fields = formatOf(settings.method).fields;
  const relora = settings.method === 'relora';
  return (
    <Panel title="3 · Method" testId="method-panel">
      <fieldset disabled={locked}>
        <Row>
          {METHODS.map((m) => (
            <label key={m} className="radio">
              <input
                type="radio"
                name="method"
                value={m}
                checked={settings.method === m}
                onChange={() => chooseMethod(m)}
                data-testid={`method-${m}`}
              />
              {METHOD_LABEL[m]}
            </label>
          ))}
        </Row>
        {hint && (
          <p className="muted hint" data-testid="method-defaults-hint">
            {hint}
          </p>
        )}
        <Row>
          {num('rank', 'Rank r', 'rank', { min: 1 })}
          {fields.alpha && num('alpha', 'Alpha', 'alpha', { min: 0.001 })}
          {fields.rslora && !relora && (
            <label className="field checkbox">
              <input type="checkbox" checked={settings.rslora} onChange={(e) => update({ rslora: e.target.checked })} />{' '}
              <span>rsLoRA (α/√r)</span>
            </label>
          )}
          {!relora && num('dropout', 'Dropout', 'dropout', { min: 0, max: 0.9, step: 0.05 })}
        </Row>
        {relora ? <ReloraFields issues={issues} /> : model && <TargetModules error={err('targets')} />}
        <Row>
          {num('lr', 'Learning rate', 'lr', { step: 0.0001, min: 0 })}
          {!relora && (
            <label className="field">
              <span>Schedule</span>
              <select
                value={settings.schedule}
                onChange={(e) => update({ schedule: e.target.value as ScheduleKind })}
                data-testid="schedule"
              >
                <option value="constant">constant</option>
                <option value="linear">linear</option>
                <option value="cosine">cosine</option>
              </select>
            </label>
          )}
          {num('warmupSteps', relora ? 'First warmup steps' : 'Warmup steps', 'warmup-steps', { min: 0 })}
        </Row>
        <Row>
          {!relora && (
            <label className="field">
              <span>Train for</span>
              <select
                value={settings.durationUnit}
                onChange={(e) => update({ durationUnit: e.target.value as 'steps' | 'epochs' })}
                data-testid="duration-unit"
              >
                <option value="steps">steps</option>
                <option value="epochs">epochs</option>
              </select>
            </label>
          )}
          {relora || settings.durationUnit === 'steps'
            ? num('steps', 'Steps', 'steps', { min: 1 })
            : num('epochs', 'Epochs', 'epochs', { min: 1 })}
          {num('batchSize', 'Batch size', 'batch-size', { min: 1 })}
          {!relora && num('gradAccum', 'Grad. accumulation', 'grad-accum', { min: 1 })}
          {num('seqLen', 'Sequence length', 'seq-len', { min: 2, max: model?.config.maxPositions })}
          {num('seed', 'Seed', 'seed', { min: 0 })}
          {num('evalEvery', 'Eval every (steps)', 'eval-every', { min: 1 })}
        </Row>
        <Row>
          {num('valFraction', 'Validation size (fraction)', 'val-fraction', {
            min: 0,
            max: 0.9,
            step: 0.05,
            title: 'Share of the examples held out for the validation loss',
          })}
          {num('maxSamples', 'Max samples (0 = all)', 'max-samples', { min: 0, title: "Use only the dataset's first N examples" })}
          {num('weightDecay', 'Weight decay', 'weight-decay', { min: 0, max: 1, step: 0.01, title: "AdamW's decoupled weight decay" })}
          {num('maxGradNorm', 'Max grad norm (0 = off)', 'max-grad-norm', {
            min: 0,
            step: 0.1,
            title: 'Clip the global gradient norm to this',
          })}
          <label
            className="field checkbox"
            title="Keep only each layer's input and recompute the layer in backward: far less memory for about one more forward pass"
          >
            <input
              type="checkbox"
              data-testid="gradient-checkpointing"
              checked={settings.gradientCheckpointing}
              onChange={(e) => update({ gradientCheckpointing: e.target.checked })}
            />{' '}
            <span>Gradient checkpointing</span>
          </label>
          {!relora && <CheckpointEvery />}
        </Row>
      </fieldset>
      <TrainableCount />
      <SettingsFile locked={locked} valid={issues.length === 0} />
    </Panel>
  );
}

/** How often the run is saved to the browser's storage (it changes no step, so it is not one of the run's settings). */
function CheckpointEvery() {
  const { every, set } = useStudio(useShallow((s) => ({ every: s.checkpointEvery, set: s.setCheckpointEvery })));
  return (
    <NumberField
      label="Checkpoint every N steps (0 = off)"
      value={every}
      min={0}
      onChange={set}
      testId="checkpoint-every"
      error={checkpointEveryProblem(every)}
      reportEmpty
      title="Save the adapter, optimizer and data order in this browser every N steps, on pause and on stop, so the run survives a reload"
    />
  );
}

/** ReLoRA's own parameters; it adapts every linear layer and brings its own lr schedule. */
function ReloraFields({ issues }: { issues: readonly SettingsIssue[] }) {
  const { r, update } = useStudio(useShallow((s) => ({ r: s.settings.relora, update: s.updateRelora })));
  const err = (field: SettingsField) => errorOf(issues, field);
  return (
    <div data-testid="relora-fields">
      <p className="muted">
        ReLoRA trains the model itself: a full-rank warm start, then rank-r LoRA on every linear layer (embeddings and norms keep training),
        merged into the weights and re-initialised every k steps, under a jagged cosine learning rate. It trains for a number of steps, one
        micro-batch per step (no epochs, no gradient accumulation), and leaves a merged model instead of a PEFT adapter.
      </p>
      <Row>
        <NumberField
          label="Warm-start steps (full rank)"
          value={r.warmStartSteps}
          min={0}
          onChange={(warmStartSteps) => update({ warmStartSteps })}
          testId="relora-warm-start"
          error={err('relora.warmStartSteps')}
          reportEmpty
        />
        <NumberField
          label="Reset every k steps"
          value={r.resetEvery}
          min={1}
          onChange={(resetEvery) => update({ resetEvery })}
          testId="relora-reset-every"
          error={err('relora.resetEvery')}
          reportEmpty
        />
        <NumberField
          label="Restart warmup steps"
          value={r.restartWarmupSteps}
          min={0}
          onChange={(restartWarmupSteps) => update({ restartWarmupSteps })}
          testId="relora-restart-warmup"
          error={err('relora.restartWarmupSteps')}
          reportEmpty
        />
        <label className="field">
          <span>Optimizer pruning</span>
          <select
            value={r.pruning}
            onChange={(e) => update({ pruning: e.target.value as 'random' | 'magnitude' })}
            data-testid="relora-pruning"
          >
            <option value="random">random</option>
            <option value="magnitude">magnitude</option>
          </select>
        </label>
        <NumberField
          label="Pruning ratio"
          value={r.pruningRatio}
          min={0}
          max={1}
          step={0.001}
          onChange={(pruningRatio) => update({ pruningRatio })}
          testId="relora-pruning-ratio"
          error={err('relora.pruningRatio')}
          reportEmpty
        />
        <NumberField
          label="Min lr ratio"
          value={r.minLrRatio}
          min={0}
          max={1}
          step={0.05}
          onChange={(minLrRatio) => update({ minLrRatio })}
          testId="relora-min-lr"
          error={err('relora.minLrRatio')}
          reportEmpty
        />
      </Row>
    </div>
  );
}

function TargetModules({ error }: { error: string | null }) {
  const { config, targets, toggleTarget } = useStudio(
    useShallow((s) => ({ config: s.model!.config, targets: s.settings.targets, toggleTarget: s.toggleTarget })),
  );
  return (
    <div className={error ? 'targets invalid' : 'targets'} data-testid="target-modules">
      <span>Target modules</span>
      {linearModuleNames(config).map((name) => (
        <label key={name} className="checkbox">
          <input type="checkbox" checked={targets.includes(name)} onChange={() => toggleTarget(name)} data-testid={`target-${name}`} />
          {name}
        </label>
      ))}
      {error && (
        <small className="field-error" data-testid="targets-error">
          {error}
        </small>
      )}
    </div>
  );
}

function TrainableCount() {
  const plan = useTrainingPlan();
  const { method, rank, resetEvery, warmStart } = useStudio(
    useShallow((s) => ({
      method: s.settings.method,
      rank: s.settings.rank,
      resetEvery: s.settings.relora.resetEvery,
      warmStart: s.settings.relora.warmStartSteps,
    })),
  );
  const total = useStudio((s) => s.model?.parameterCount ?? 0);
  if (plan.issues.length > 0) {
    return (
      <p className="warn" data-testid="trainable-count">
        <span data-testid="settings-problems">{plan.settingsProblem}</span>
      </p>
    );
  }
  if (plan.settingsProblem)
    return (
      <p className="warn" data-testid="trainable-count">
        {plan.settingsProblem}
      </p>
    );
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

/** Save the run's settings to a JSON file, load them back (validated; bad fields named), or go back to the defaults. */
function SettingsFile({ locked, valid }: { locked: boolean; valid: boolean }) {
  const { settings, error, load, reset, examples } = useStudio(
    useShallow((s) => ({
      settings: s.settings,
      error: s.settingsFileError,
      load: s.loadSettingsFile,
      reset: s.resetSettings,
      examples: s.dataset?.examples ?? null,
    })),
  );
  return (
    <div className="settings-file">
      {examples !== null && settings.maxSamples > 0 && settings.maxSamples < examples && (
        <p className="muted" data-testid="max-samples-note">
          Max samples: training and validation use the first {settings.maxSamples} of the {examples} examples.
        </p>
      )}
      <Row>
        <button
          type="button"
          data-testid="settings-save"
          disabled={!valid}
          title={valid ? undefined : 'fix the marked settings first'}
          onClick={() => saveSettingsFile(settings)}
        >
          Save settings
        </button>
        <label className={locked ? 'button disabled' : 'button'}>
          Load settings…
          <input
            type="file"
            hidden
            accept=".json,application/json"
            data-testid="settings-load"
            disabled={locked}
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) void load(file);
              e.target.value = '';
            }}
          />
        </label>
        <button type="button" data-testid="settings-reset" disabled={locked} onClick={reset}>
          Reset to defaults
        </button>
        <span className="muted">Settings are kept in this browser for the next visit.</span>
      </Row>
      {error && (
        <p className="error" role="alert" data-testid="settings-load-error">
          Settings not loaded: {error}
        </p>
      )}
    </div>
  );
}
