import { useMemo, useRef } from 'react';
import type uPlot from 'uplot';
import { useShallow } from 'zustand/react/shallow';
import { useTrainingPlan } from '../plan';
import { checkpointEveryProblem } from '../store/settings-slice';
import { useStudio } from '../store/store';
import { ErrorText, Panel } from './Panel';
import { UPlotChart } from './UPlotChart';

export function TrainPanel() {
  return (
    <Panel title="4 · Train" testId="train-panel" wide>
      <TrainControls />
      <TrainProgress />
      <div className="charts">
        <LossChart />
        <LrChart />
      </div>
    </Panel>
  );
}

function TrainControls() {
  const s = useStudio(
    useShallow((s) => ({
      status: s.trainingStatus,
      canContinue: s.trainedKind === 'adapter' && s.settings.method !== 'relora',
      ready: s.model !== null && s.dataset !== null && s.dataset.trainSequences > 0,
      badCheckpointEvery: checkpointEveryProblem(s.checkpointEvery) !== null,
      start: s.startTraining,
      pause: s.pauseTraining,
      resume: s.resumeTraining,
      stop: s.stopTraining,
    })),
  );
  const plan = useTrainingPlan();
  const active = s.status === 'running' || s.status === 'paused' || s.status === 'starting';
  const blocked = !s.ready || plan.settingsProblem !== null || plan.fitProblem !== null || s.badCheckpointEvery;
  return (
    <div className="row controls">
      <button type="button" data-testid="train-start" disabled={active || blocked} onClick={() => s.start(false)}>
        Start training
      </button>
      <button type="button" data-testid="train-continue" disabled={active || blocked || !s.canContinue} onClick={() => s.start(true)}>
        Continue training
      </button>
      <button type="button" data-testid="train-pause" disabled={s.status !== 'running'} onClick={s.pause}>
        Pause
      </button>
      <button type="button" data-testid="train-resume" disabled={s.status !== 'paused'} onClick={s.resume}>
        Resume
      </button>
      <button type="button" data-testid="train-stop" disabled={!active} onClick={s.stop}>
        Stop
      </button>
      {!s.ready && <span className="muted">Load a model and a dataset to train.</span>}
      {plan.fitProblem && <span className="error">Will not fit on this GPU.</span>}
      {s.ready && plan.issues.length > 0 && (
        <span className="error" data-testid="train-blocked">
          Fix {plan.issues.length === 1 ? 'the setting' : `the ${plan.issues.length} settings`} marked in the Method panel first.
        </span>
      )}
      {s.ready && plan.issues.length === 0 && s.badCheckpointEvery && (
        <span className="error">Fix the checkpoint interval in the Method panel first.</span>
      )}
    </div>
  );
}

function TrainProgress() {
  const p = useStudio(
    useShallow((s) => ({
      status: s.trainingStatus,
      step: s.step,
      total: s.totalSteps,
      tps: s.tokensPerSecond,
      elapsedMs: s.elapsedMs,
      epoch: s.epoch,
      message: s.trainingMessage,
      lastLoss: s.history.losses[s.history.losses.length - 1],
      checkpoint: s.lastCheckpoint?.step ?? null,
      checkpointError: s.checkpointError,
    })),
  );
  const fraction = p.total > 0 ? p.step / p.total : 0;
  const etaSeconds = p.step > 0 ? ((p.elapsedMs / p.step) * (p.total - p.step)) / 1000 : null;
  return (
    <div className="progress-block">
      <progress max={1} value={fraction} data-testid="train-progress" />
      <p data-testid="train-status" data-status={p.status} data-step={p.step}>
        <strong>{p.status}</strong> ·{' '}
        {p.status === 'starting' ? (
          'preparing the run…'
        ) : (
          <>
            step {p.step} / {p.total}
          </>
        )}
        {p.lastLoss !== undefined && p.status !== 'starting' && (
          <>
            {' '}
            · loss <span data-testid="last-loss">{p.lastLoss.toFixed(4)}</span>
          </>
        )}
        {etaSeconds !== null && p.status === 'running' && <> · ETA {formatSeconds(etaSeconds)}</>}
        {p.tps > 0 && <> · {Math.round(p.tps).toLocaleString('en-US')} tokens/s</>}
        {p.step > 0 && <> · epoch {p.epoch + 1}</>}
        {p.checkpoint !== null && (
          <>
            {' '}
            · saved at step <span data-testid="last-checkpoint">{p.checkpoint}</span>
          </>
        )}
      </p>
      {p.checkpointError && (
        <p className="warn" data-testid="checkpoint-error">
          {p.checkpointError}
        </p>
      )}
      {p.status === 'error' ? (
        <ErrorText message={p.message} />
      ) : (
        p.message && (
          <p className={p.status === 'paused' ? 'warn' : 'muted'} data-testid="train-message">
            {p.message}
          </p>
        )
      )}
    </div>
  );
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s`;
}

interface Marks {
  resets: number[];
  loraStart: number | null;
}

/** Vertical dashed lines at ReLoRA's resets (orange) and at the end of its warm start (grey). */
function markerPlugin(marks: { current: Marks }): uPlot.Plugin {
  const line = (u: uPlot, x: number, colour: string, label: string) => {
    const ctx = u.ctx;
    const cx = Math.round(u.valToPos(x, 'x', true));
    const { top, height } = u.bbox;
    ctx.save();
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineWidth = 1.5 * devicePixelRatio;
    ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
    ctx.beginPath();
    ctx.moveTo(cx, top);
    ctx.lineTo(cx, top + height);
    ctx.stroke();
    ctx.font = `${10 * devicePixelRatio}px system-ui, sans-serif`;
    ctx.fillText(label, cx + 3 * devicePixelRatio, top + 11 * devicePixelRatio);
    ctx.restore();
  };
  return {
    hooks: {
      draw: (u) => {
        const { resets, loraStart } = marks.current;
        if (loraStart !== null) line(u, loraStart, '#6b7280', 'LoRA');
        for (const x of resets) line(u, x, '#ea580c', 'reset');
      },
    },
  };
}

function useMarks(): { current: Marks } {
  const { resets, loraStart } = useStudio(useShallow((s) => ({ resets: s.history.resets, loraStart: s.history.loraStart })));
  const marks = useRef<Marks>({ resets, loraStart });
  marks.current = { resets, loraStart };
  return marks;
}

const LOSS_SERIES: uPlot.Series[] = [
  {},
  { label: 'training', stroke: '#2563eb', width: 2 },
  { label: 'validation', stroke: '#dc2626', width: 2, spanGaps: true, points: { show: true, size: 6 } },
];

function LossChart() {
  const { history, val, relora } = useStudio(
    useShallow((s) => ({ history: s.history, val: s.valHistory, relora: s.trainedKind === 'relora' })),
  );
  const marks = useMarks();
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      title: relora ? 'Loss (dashed: ReLoRA resets)' : 'Loss',
      scales: { x: { time: false } },
      axes: [{ label: 'step' }, { label: 'loss' }],
      series: relora
        ? [...LOSS_SERIES, { label: 'reset', stroke: '#ea580c', paths: () => null, points: { show: true, size: 9, fill: '#ea580c' } }]
        : LOSS_SERIES,
      plugins: [markerPlugin(marks)],
    }),
    [relora, marks],
  );
  const data = useMemo<uPlot.AlignedData>(() => {
    const valAt = new Map(val.steps.map((step, i) => [step, val.losses[i]!]));
    const base: uPlot.AlignedData = [history.steps, history.losses, history.steps.map((step) => valAt.get(step) ?? null)];
    if (!relora) return base;
    const resets = new Set(history.resets);
    return [...base, history.steps.map((step, i) => (resets.has(step) ? history.losses[i]! : null))];
  }, [history, val, relora]);
  const attrs = {
    'data-first-loss': history.losses[0] ?? '',
    'data-last-loss': history.losses[history.losses.length - 1] ?? '',
    'data-resets': history.resets.join(','),
    'data-lora-start': history.loraStart ?? '',
    'data-losses': history.losses.map((l) => l.toPrecision(5)).join(','),
  };
  return <UPlotChart options={options} data={data} testId="loss-chart" points={history.steps.length} attrs={attrs} />;
}

function LrChart() {
  const { history, relora } = useStudio(useShallow((s) => ({ history: s.history, relora: s.trainedKind === 'relora' })));
  const marks = useMarks();
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      title: relora ? 'Learning rate (ReLoRA jagged cosine)' : 'Learning rate',
      scales: { x: { time: false } },
      axes: [{ label: 'step' }, { label: 'lr', size: 70 }],
      series: [{}, { label: 'lr', stroke: '#16a34a', width: 2 }],
      plugins: [markerPlugin(marks)],
    }),
    [relora, marks],
  );
  const data = useMemo<uPlot.AlignedData>(() => [history.steps, history.lrs], [history]);
  const attrs = { 'data-lrs': history.lrs.map((lr) => lr.toPrecision(4)).join(',') };
  return <UPlotChart options={options} data={data} testId="lr-chart" points={history.steps.length} attrs={attrs} />;
}
