import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { formatTicks } from '../ticks';

/**
 * A uPlot chart that is created once per `options` identity and fed new data in place, so
 * live training updates do not rebuild the canvas.
 */
export function UPlotChart(props: {
  options: Omit<uPlot.Options, 'width' | 'height'>;
  data: uPlot.AlignedData;
  height?: number;
  testId: string;
  points: number;
  attrs?: Record<`data-${string}`, string | number>;
}) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const height = props.height ?? 200;

  // biome-ignore lint/correctness/useExhaustiveDependencies: created once per options identity; data flows in through setData below
  useEffect(() => {
    const el = host.current!;
    const plot = new uPlot(
      { ...props.options, axes: readableAxes(props.options.axes, el), width: Math.max(200, el.clientWidth), height },
      props.data,
      el,
    );
    chart.current = plot;
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
      chart.current = null;
    };
  }, [props.options, height]);

  useEffect(() => {
    chart.current?.setData(props.data);
  }, [props.data]);

  return <div ref={host} className="chart" data-testid={props.testId} data-points={props.points} {...props.attrs} />;
}

export const PALETTE = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#9333ea',
  '#ea580c',
  '#0891b2',
  '#be185d',
  '#65a30d',
  '#4f46e5',
  '#b45309',
  '#0d9488',
  '#7c3aed',
  '#e11d48',
  '#15803d',
];

/**
 * Tick labels with enough significant digits to tell the ticks apart at any scale (see ticks.ts)
 * for every axis that does not format its own; the labels drawn are kept in data-x-ticks /
 * data-y-ticks ("|"-separated), since the canvas has no text to read.
 */
function readableAxes(axes: uPlot.Axis[] | undefined, el: HTMLElement): uPlot.Axis[] {
  return (axes ?? [{}, {}]).map((axis, i) => {
    if (axis.values !== undefined) return axis;
    return {
      ...axis,
      values: (_u: uPlot, splits: number[]) => {
        const labels = formatTicks(splits);
        el.setAttribute(i === 0 ? 'data-x-ticks' : `data-y${i === 1 ? '' : i}-ticks`, labels.join('|'));
        return labels;
      },
    };
  });
}
