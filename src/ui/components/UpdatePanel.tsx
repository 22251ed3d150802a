import { useEffect, useMemo, useState } from 'react';
import type uPlot from 'uplot';
import { useShallow } from 'zustand/react/shallow';
import type { ModuleUpdateStats } from '../../worker/protocol';
import type { UpdateSnapshot } from '../store/training-slice';
import { useStudio } from '../store/store';
import { Heatmap } from './Heatmap';
import { Panel } from './Panel';
import { PALETTE, UPlotChart } from './UPlotChart';

const moduleLabel = (m: Pick<ModuleUpdateStats, 'layer' | 'name'>) => `L${m.layer}.${m.name}`;

export function UpdatePanel() {
  const [open, setOpen] = useState(false);
  const count = useStudio((s) => s.updates.length);
  const kind = useStudio((s) => s.trainedKind);
  // A new run (or ReLoRA, which has no per-layer adapter to show) leaves no snapshot: close the view
  // rather than leave a "Hide" over nothing.
  useEffect(() => {
    if (count === 0) setOpen(false);
  }, [count]);
  const shown = open && count > 0;
  return (
    <Panel title="5 · See the update" testId="update-panel" wide>
      <p className="muted">
        Per adapted layer: ΔM = mean over output rows of |‖w′ᵢ‖ − ‖wᵢ‖| and ΔD = mean of 1 − cos(w′ᵢ, wᵢ), for W′ = W + ΔW, computed on the
        GPU.
      </p>
      <button type="button" data-testid="update-open" onClick={() => setOpen(!open)} disabled={count === 0}>
        {shown ? 'Hide update view' : `Show update view (${count} snapshot${count === 1 ? '' : 's'})`}
      </button>
      {count === 0 && (
        <p className="muted" data-testid="update-empty">
          {kind === 'relora'
            ? 'ReLoRA merges its low-rank updates into the weights at every reset, so there is no adapter whose layers to show here; the loss and lr charts mark its resets.'
            : 'Snapshots appear during training, at every evaluation (every "Eval every" steps and at the end).'}
        </p>
      )}
      {shown && <UpdateCharts />}
    </Panel>
  );
}

function UpdateCharts() {
  const { updates, vectors } = useStudio(useShallow((s) => ({ updates: s.updates, vectors: s.layerVectors })));
  const labels = useMemo(() => updates[0]!.modules.map(moduleLabel), [updates]);
  const latest = updates[updates.length - 1]!;
  return (
    <div data-testid="update-view">
      <div className="charts">
        <OverSteps updates={updates} labels={labels} metric="magnitude" title="ΔM (magnitude change) over steps" testId="delta-m-chart" />
        <OverSteps updates={updates} labels={labels} metric="direction" title="ΔD (direction change) over steps" testId="delta-d-chart" />
        <Scatter snapshot={latest} />
      </div>
      {vectors.length > 0 && (
        <div className="charts">
          {vectors.map((v) => (
            <Heatmap
              key={v.id}
              title={v.title}
              testId={v.id}
              rows={v.rows.map((r) => ({ label: shortPath(r.modulePath), values: r.values }))}
            />
          ))}
        </div>
      )}
      <UpdateTable snapshot={latest} />
    </div>
  );
}

function shortPath(modulePath: string): string {
  const m = /\.(\d+)\.(?:[a-z_]+\.)?([a-z_]+)$/.exec(modulePath);
  return m ? `L${m[1]}.${m[2]}` : modulePath;
}

function OverSteps(props: {
  updates: readonly UpdateSnapshot[];
  labels: string[];
  metric: 'magnitude' | 'direction';
  title: string;
  testId: string;
}) {
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      title: props.title,
      scales: { x: { time: false } },
      legend: { show: props.labels.length <= 8 },
      axes: [{ label: 'step' }, { size: 80 }],
      series: [{}, ...props.labels.map((label, i) => ({ label, stroke: PALETTE[i % PALETTE.length], width: 1.5 }))],
    }),
    [props.labels, props.title],
  );
  const data = useMemo<uPlot.AlignedData>(
    () => [props.updates.map((u) => u.step), ...props.labels.map((_, i) => props.updates.map((u) => u.modules[i]?.[props.metric] ?? null))],
    [props.updates, props.labels, props.metric],
  );
  return <UPlotChart options={options} data={data} testId={props.testId} points={props.updates.length} />;
}

/** ΔD against ΔM for every layer at the latest snapshot; one series per module type. */
function Scatter({ snapshot }: { snapshot: UpdateSnapshot }) {
  const names = useMemo(() => [...new Set(snapshot.modules.map((m) => m.name))], [snapshot]);
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      title: `ΔD vs ΔM at step ${snapshot.step}`,
      scales: { x: { time: false } },
      axes: [{ label: 'ΔM' }, { label: 'ΔD', size: 80 }],
      series: [
        {},
        ...names.map((label, i) => ({
          label,
          stroke: PALETTE[i % PALETTE.length],
          paths: () => null,
          points: { show: true, size: 9, fill: PALETTE[i % PALETTE.length] },
        })),
      ],
    }),
    [names, snapshot.step],
  );
  const data = useMemo<uPlot.AlignedData>(() => {
    const sorted = [...snapshot.modules].sort((a, b) => a.magnitude - b.magnitude);
    return [sorted.map((m) => m.magnitude), ...names.map((n) => sorted.map((m) => (m.name === n ? m.direction : null)))];
  }, [snapshot, names]);
  return <UPlotChart options={options} data={data} testId="update-scatter" points={snapshot.modules.length} />;
}

function UpdateTable({ snapshot }: { snapshot: UpdateSnapshot }) {
  return (
    <table className="stats" data-testid="update-table">
      <thead>
        <tr>
          <th>Layer</th>
          <th>ΔM</th>
          <th>ΔD</th>
        </tr>
      </thead>
      <tbody>
        {snapshot.modules.map((m) => (
          <tr key={m.modulePath}>
            <td>{moduleLabel(m)}</td>
            <td>{m.magnitude.toExponential(3)}</td>
            <td>{m.direction.toExponential(3)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
