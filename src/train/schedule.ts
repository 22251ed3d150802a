export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export interface LrSchedule {
  readonly kind: ScheduleKind;
  readonly peakLr: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
}

/**
 * Learning rate at optimizer step `step` (0-based), as transformers' get_*_schedule_with_warmup:
 * linear warmup from 0 to the peak over warmupSteps, then constant, linear decay to 0, or a
 * half-cosine to 0 at totalSteps.
 */
export function learningRateAt(s: LrSchedule, step: number): number {
  if (step < s.warmupSteps) return (s.peakLr * (step + 1)) / (s.warmupSteps + 1);
  if (s.kind === 'constant') return s.peakLr;
  const decaySteps = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / decaySteps);
  if (s.kind === 'linear') return s.peakLr * (1 - progress);
  return s.peakLr * 0.5 * (1 + Math.cos(Math.PI * progress));
}
