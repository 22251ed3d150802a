import { useEffect, useRef } from 'react';
import uPlot from 'uplot';

/**
 * A uPlot chart that is created once per `options` identity and fed new data in place, so
 * live training updates do not rebuild the canvas.
 */
export function UPlotChart(props: { options: Omit<uPlot.Options, 'width' | 'height'>; data: uPlot.AlignedData; height?: number; testId: string; points: number; attrs?: Record<`data-${string}`, string | number> }) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const height = props.height ?? 200;

  useEffect(() => {
    const el = host.current!;
    const plot = new uPlot({ ...props.options, width: Math.max(200, el.clientWidth), height }, props.data, el);
    chart.current = plot;
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
      chart.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- data flows in through setData below
  }, [props.options, height]);

  useEffect(() => {
    chart.current?.setData(props.data);
  }, [props.data]);

  return <div ref={host} className="chart" data-testid={props.testId} data-points={props.points} {...props.attrs} />;
}

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d', '#65a30d', '#4f46e5', '#b45309', '#0d9488', '#7c3aed', '#e11d48', '#15803d'];
