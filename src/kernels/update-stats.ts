import { defineKernel } from '../gpu/kernel';
import type { GpuRuntime } from '../gpu/runtime';
import type { Tensor } from '../gpu/tensor';
import { rowGroups } from './common';

const weightUpdateStatsKernel = defineKernel({
  name: 'weight-update-stats',
  shaders: ['common_reduce.wgsl', 'weight_update_stats.wgsl'],
  entryPoint: 'main',
  bindings: ['read', 'read', 'storage'],
  uniforms: [
    ['out_features', 'u32'],
    ['in_features', 'u32'],
  ],
});

export interface WeightUpdateStatsArgs {
  /** The frozen weight as stored: [out, in], or [in, out] with fanInFanOut. */
  readonly weight: Tensor;
  /** ΔW as [out, in]. */
  readonly delta: Tensor;
  /** Output [out, 2]: per row |‖w'‖ − ‖w‖| and 1 − cos(w', w). */
  readonly rowStats: Tensor;
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly fanInFanOut: boolean;
}

/** Records the per-row magnitude and direction change of W + ΔW against W. */
export function recordWeightUpdateStats(rt: GpuRuntime, a: WeightUpdateStatsArgs): void {
  rt.dispatch(weightUpdateStatsKernel, {
    bind: [a.weight, a.delta, a.rowStats],
    uniforms: { out_features: a.outFeatures, in_features: a.inFeatures },
    overrides: { FAN_IN_FAN_OUT: a.fanInFanOut },
    workgroups: rowGroups(a.outFeatures),
  });
}

export interface UpdateStats {
  /** ΔM: mean over output rows of |‖w'ᵢ‖ − ‖wᵢ‖|. */
  readonly magnitude: number;
  /** ΔD: mean over output rows of 1 − cos(w'ᵢ, wᵢ). */
  readonly direction: number;
}

/** ΔM and ΔD of one layer: per-row stats on the GPU, the mean over rows on the CPU. */
export async function weightUpdateStats(
  rt: GpuRuntime,
  weight: Tensor,
  deltaRows: Float32Array,
  shape: { outFeatures: number; inFeatures: number; fanInFanOut: boolean },
): Promise<UpdateStats> {
  const delta = rt.tensor([shape.outFeatures, shape.inFeatures], 'update-stats.delta', deltaRows);
  const rowStats = rt.tensor([shape.outFeatures, 2], 'update-stats.rows');
  recordWeightUpdateStats(rt, { weight, delta, rowStats, ...shape });
  const rows = await rt.read(rowStats);
  rt.release(delta, rowStats);
  return meanRowStats(rows);
}

export function meanRowStats(rows: Float32Array): UpdateStats {
  const n = rows.length / 2;
  let magnitude = 0;
  let direction = 0;
  for (let i = 0; i < n; i++) {
    magnitude += rows[2 * i]!;
    direction += rows[2 * i + 1]!;
  }
  return { magnitude: magnitude / n, direction: direction / n };
}
