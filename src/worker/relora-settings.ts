/** ReLoRA's settings as the studio holds them: conversion to the engine's, checks, trainable count (pure, no GPU). */
import type { ReloraSettings } from '../train/relora';
import { linearModules, type ModelConfig } from '../formats/hf-config';
import type { TrainSettings } from './protocol';

export function reloraSettingsOf(s: TrainSettings): ReloraSettings {
  return {
    rank: s.rank,
    alpha: s.alpha,
    totalSteps: s.steps,
    warmStartSteps: s.relora.warmStartSteps,
    resetEvery: s.relora.resetEvery,
    firstWarmupSteps: s.warmupSteps,
    restartWarmupSteps: s.relora.restartWarmupSteps,
    pruning: s.relora.pruning,
    pruningRatio: s.relora.pruningRatio,
    minLrRatio: s.relora.minLrRatio,
  };
}

/** Why the ReLoRA settings cannot run, or null. */
export function reloraSettingsProblem(s: TrainSettings): string | null {
  const r = s.relora;
  if (!Number.isInteger(s.rank) || s.rank < 1) return 'rank must be a positive integer';
  if (!Number.isInteger(r.resetEvery) || r.resetEvery < 1) return 'the reset interval must be at least 1 step';
  if (!Number.isInteger(r.warmStartSteps) || r.warmStartSteps < 0) return 'warm-start steps must be 0 or more';
  if (r.warmStartSteps >= s.steps) return 'warm-start steps must be fewer than the total steps, or no LoRA step is left';
  if (!Number.isInteger(r.restartWarmupSteps) || r.restartWarmupSteps < 0 || r.restartWarmupSteps >= r.resetEvery)
    return 'restart warmup must be 0 or more and shorter than the reset interval';
  if (!(r.pruningRatio >= 0 && r.pruningRatio <= 1)) return 'the pruning ratio must be in [0, 1]';
  if (!(r.minLrRatio >= 0 && r.minLrRatio <= 1)) return 'the min lr ratio must be in [0, 1]';
  return null;
}

/**
 * Trainable parameters in ReLoRA's LoRA phase: rank-r A and B on every linear layer, plus the
 * weights that are not linear layers (embeddings, norms), which keep training full-rank.
 */
export function reloraTrainableCount(config: ModelConfig, parameterCount: number, rank: number): number {
  let lora = 0;
  let linear = 0;
  for (const m of linearModules(config)) {
    lora += rank * (m.inFeatures + m.outFeatures);
    linear += m.inFeatures * m.outFeatures;
  }
  return lora + parameterCount - linear;
}
