import type { ReactNode } from 'react';

/**
 * A labelled number input that reports only finite values, or NaN for an emptied field when
 * `onEmpty` is not given and `reportEmpty` is set (so validation can say "enter a number").
 * `error` marks the field invalid and says why under it.
 */
export function NumberField(props: {
  label: string;
  value: number;
  onChange: (v: number) => void;
  step?: number;
  min?: number;
  max?: number;
  testId?: string;
  disabled?: boolean;
  error?: string | null;
  reportEmpty?: boolean;
  title?: string;
}) {
  const invalid = props.error !== undefined && props.error !== null;
  return (
    <label className={invalid ? 'field invalid' : 'field'} title={props.title}>
      <span>{props.label}</span>
      <input
        type="number"
        value={Number.isFinite(props.value) ? props.value : ''}
        step={props.step ?? 1}
        min={props.min}
        max={props.max}
        data-testid={props.testId}
        disabled={props.disabled}
        aria-invalid={invalid ? true : undefined}
        onChange={(e) => {
          const v = e.target.valueAsNumber;
          if (Number.isFinite(v)) props.onChange(v);
          else if (props.reportEmpty && e.target.value === '' && !e.target.validity.badInput) props.onChange(Number.NaN);
        }}
      />
      {invalid && (
        <small className="field-error" data-testid={props.testId ? `${props.testId}-error` : undefined}>
          {props.error}
        </small>
      )}
    </label>
  );
}

export function Row({ children }: { children: ReactNode }) {
  return <div className="row">{children}</div>;
}
