/**
 * ReLoRA's jagged cosine schedule: a linear warmup, then one cosine decay over the whole run
 * down to `minLrRatio`, and after every reset a short linear re-warmup that climbs back to the
 * value the cosine has at the end of that re-warmup. Returns the multiplier of the base lr.
 */
export interface JaggedCosine {
  readonly totalSteps: number;
  readonly warmupSteps: number;
  /** Steps between resets (merges). */
  readonly resetEvery: number;
  readonly restartWarmupSteps: number;
  readonly minLrRatio: number;
  /** Resets count from this step (the end of the full-rank warm start). */
  readonly resetOffset: number;
}

function cosineAt(step: number, s: JaggedCosine): number {
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - s.warmupSteps) / span));
  return s.minLrRatio + (1 - s.minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

export function jaggedCosine(step: number, s: JaggedCosine): number {
  if (step < s.warmupSteps) return step / Math.max(1, s.warmupSteps);
  const sinceReset = (step - s.resetOffset) % s.resetEvery;
  if (step >= s.resetOffset + s.resetEvery && sinceReset < s.restartWarmupSteps) {
    const resetStep = step - sinceReset;
    return (sinceReset / Math.max(1, s.restartWarmupSteps)) * cosineAt(resetStep + s.restartWarmupSteps, s);
  }
  return cosineAt(step, s);
}
