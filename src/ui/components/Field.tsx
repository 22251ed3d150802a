import type { ReactNode } from 'react';

/** A labelled number input that reports only finite values. */
export function NumberField(props: {
  label: string; value: number; onChange: (v: number) => void; step?: number; min?: number; max?: number; testId?: string; disabled?: boolean;
}) {
  return (
    <label className="field">
      <span>{props.label}</span>
      <input
        type="number" value={props.value} step={props.step ?? 1} min={props.min} max={props.max} data-testid={props.testId} disabled={props.disabled}
        onChange={(e) => {
          const v = e.target.valueAsNumber;
          if (Number.isFinite(v)) props.onChange(v);
        }}
      />
    </label>
  );
}

export function Row({ children }: { children: ReactNode }) {
  return <div className="row">{children}</div>;
}
