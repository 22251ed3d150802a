import { useMemo } from 'react';
import type uPlot from 'uplot';
import { useShallow } from 'zustand/react/shallow';
import { useTrainingPlan } from '../plan';
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
      status: s.trainingStatus, hasAdapter: s.hasAdapter, ready: s.model !== null && s.dataset !== null && s.dataset.trainSequences > 0,
      start: s.startTraining, pause: s.pauseTraining, resume: s.resumeTraining, stop: s.stopTraining,
    })),
  );
  const plan = useTrainingPlan();
  const active = s.status === 'running' || s.status === 'paused' || s.status === 'starting';
  const blocked = !s.ready || plan.settingsProblem !== null || plan.fitProblem !== null;
  return (
    <div className="row controls">
      <button type="button" data-testid="train-start" disabled={active || blocked} onClick={() => s.start(false)}>Start training</button>
      <button type="button" data-testid="train-continue" disabled={active || blocked || !s.hasAdapter} onClick={() => s.start(true)}>Continue training</button>
      <button type="button" data-testid="train-pause" disabled={s.status !== 'running'} onClick={s.pause}>Pause</button>
      <button type="button" data-testid="train-resume" disabled={s.status !== 'paused'} onClick={s.resume}>Resume</button>
      <button type="button" data-testid="train-stop" disabled={!active} onClick={s.stop}>Stop</button>
      {!s.ready && <span className="muted">Load a model and a dataset to train.</span>}
      {plan.fitProblem && <span className="error">Will not fit on this GPU.</span>}
    </div>
  );
}

function TrainProgress() {
  const p = useStudio(
    useShallow((s) => ({
      status: s.trainingStatus, step: s.step, total: s.totalSteps, tps: s.tokensPerSecond, elapsedMs: s.elapsedMs, epoch: s.epoch,
      message: s.trainingMessage, lastLoss: s.history.losses[s.history.losses.length - 1],
    })),
  );
  const fraction = p.total > 0 ? p.step / p.total : 0;
  const etaSeconds = p.step > 0 ? ((p.elapsedMs / p.step) * (p.total - p.step)) / 1000 : null;
  return (
    <div className="progress-block">
      <progress max={1} value={fraction} data-testid="train-progress" />
      <p data-testid="train-status" data-status={p.status} data-step={p.step}>
        <strong>{p.status}</strong> · step {p.step} / {p.total}
        {p.lastLoss !== undefined && <> · loss <span data-testid="last-loss">{p.lastLoss.toFixed(4)}</span></>}
        {etaSeconds !== null && p.status === 'running' && <> · ETA {formatSeconds(etaSeconds)}</>}
        {p.tps > 0 && <> · {Math.round(p.tps).toLocaleString('en-US')} tokens/s</>}
        {p.step > 0 && <> · epoch {p.epoch + 1}</>}
      </p>
      {p.status === 'error' ? <ErrorText message={p.message} /> : p.message && <p className={p.status === 'paused' ? 'warn' : 'muted'} data-testid="train-message">{p.message}</p>}
    </div>
  );
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s`;
}

const LOSS_OPTIONS: Omit<uPlot.Options, 'width' | 'height'> = {
  title: 'Loss',
  scales: { x: { time: false } },
  axes: [{ label: 'step' }, { label: 'loss' }],
  series: [
    {},
    { label: 'training', stroke: '#2563eb', width: 2 },
    { label: 'validation', stroke: '#dc2626', width: 2, spanGaps: true, points: { show: true, size: 6 } },
  ],
};

function LossChart() {
  const { history, val } = useStudio(useShallow((s) => ({ history: s.history, val: s.valHistory })));
  const data = useMemo<uPlot.AlignedData>(() => {
    const valAt = new Map(val.steps.map((step, i) => [step, val.losses[i]!]));
    return [history.steps, history.losses, history.steps.map((step) => valAt.get(step) ?? null)];
  }, [history, val]);
  const attrs = { 'data-first-loss': history.losses[0] ?? '', 'data-last-loss': history.losses[history.losses.length - 1] ?? '' };
  return <UPlotChart options={LOSS_OPTIONS} data={data} testId="loss-chart" points={history.steps.length} attrs={attrs} />;
}

const LR_OPTIONS: Omit<uPlot.Options, 'width' | 'height'> = {
  title: 'Learning rate',
  scales: { x: { time: false } },
  axes: [{ label: 'step' }, { label: 'lr', size: 70 }],
  series: [{}, { label: 'lr', stroke: '#16a34a', width: 2 }],
};

function LrChart() {
  const history = useStudio((s) => s.history);
  const data = useMemo<uPlot.AlignedData>(() => [history.steps, history.lrs], [history]);
  return <UPlotChart options={LR_OPTIONS} data={data} testId="lr-chart" points={history.steps.length} />;
}
