import { useEffect, useRef } from 'react';
import { formatTicks } from '../ticks';

/** Rows of values as colour cells (blue negative, white zero, red positive), scaled to the largest |value|. */
export function Heatmap(props: { rows: readonly { label: string; values: Float32Array }[]; testId: string; title: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const columns = Math.max(1, ...props.rows.map((r) => r.values.length));
  const maxAbs = Math.max(1e-12, ...props.rows.flatMap((r) => Array.from(r.values, Math.abs)));
  useEffect(() => {
    const ctx = canvas.current?.getContext('2d');
    if (!ctx) return;
    const cw = ctx.canvas.width / columns;
    const ch = ctx.canvas.height / Math.max(1, props.rows.length);
    ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
    for (const [r, row] of props.rows.entries()) {
      for (const [c, v] of row.values.entries()) {
        ctx.fillStyle = colour(v / maxAbs);
        ctx.fillRect(c * cw, r * ch, Math.ceil(cw), Math.ceil(ch));
      }
    }
  }, [props.rows, columns, maxAbs]);
  return (
    <figure className="heatmap" data-testid={props.testId}>
      <figcaption>
        {props.title} <span className="muted">(|max| = {maxAbs.toExponential(2)})</span>
      </figcaption>
      <div className="heatmap-body">
        <div className="heatmap-labels">
          {props.rows.map((r) => (
            <div key={r.label}>{r.label}</div>
          ))}
        </div>
        <div className="heatmap-cells">
          <canvas ref={canvas} width={600} height={Math.max(1, props.rows.length) * 14} />
          <div className="tick-bar" />
          <div className="tick-legend" data-testid={`${props.testId}-scale`}>
            {scaleLabels(maxAbs).map((t, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: five fixed positions; the labels repeat when |max| = 0
              <span key={i}>{t}</span>
            ))}
          </div>
        </div>
      </div>
    </figure>
  );
}

function colour(t: number): string {
  const a = Math.min(1, Math.abs(t));
  const fade = Math.round(255 * (1 - a));
  return t >= 0 ? `rgb(255, ${fade}, ${fade})` : `rgb(${fade}, ${fade}, 255)`;
}

/** The colour scale's labels: −|max| … 0 … +|max|, |max| to 3 significant digits. */
function scaleLabels(maxAbs: number): string[] {
  const top = Number(maxAbs.toPrecision(3));
  return formatTicks([-top, -top / 2, 0, top / 2, top]);
}
