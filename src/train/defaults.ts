/**
 * The training defaults of every entry point: the CLI (`train`, `grads`), the studio (its starting
 * settings and the worker's runs), the scripts and the benches. A value not given takes these.
 *
 * - AdamW as `torch.optim.AdamW` and HF `TrainingArguments`: betas (0.9, 0.999), eps 1e-8,
 *   weight decay 0 (decoupled).
 * - Global gradient-norm clipping at 1, HF Trainer's `max_grad_norm`; 0 turns it off (the golden
 *   fixtures' AdamW steps are unclipped, so the tests that reproduce them pass 0).
 * - Seed 0, no warmup, one micro-batch per optimizer step (no gradient accumulation).
 * - ReLoRA's optimizer reset prunes 99.9 % of the AdamW state at random, and its jagged cosine
 *   decays to 10 % of the peak lr (the ReLoRA paper's values).
 *
 * The learning rate has no default in the CLI (`--lr` is required); the studio starts from its
 * own settings (src/ui/store/settings-slice.ts: lr 1e-2, warmup 2, seed 42), which take the
 * optimizer values below.
 */
import type { TrainHyper } from './trainer';

export const TRAINING_DEFAULTS = {
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  maxGradNorm: 1,
  seed: 0,
  warmupSteps: 0,
  gradAccum: 1,
  /** Off, as HF TrainingArguments: checkpointing trades about one more forward pass for memory. */
  gradientCheckpointing: false,
} as const;

export const RELORA_DEFAULTS = {
  pruning: 'random',
  pruningRatio: 0.999,
  minLrRatio: 0.1,
} as const;

/** The optimizer settings of a run at learning rate `lr`: what is given, the defaults for the rest. */
export function trainHyper(lr: number, given: Partial<Omit<TrainHyper, 'lr'>> = {}): TrainHyper {
  const d = TRAINING_DEFAULTS;
  return {
    lr,
    beta1: given.beta1 ?? d.beta1,
    beta2: given.beta2 ?? d.beta2,
    eps: given.eps ?? d.eps,
    weightDecay: given.weightDecay ?? d.weightDecay,
    maxGradNorm: given.maxGradNorm ?? d.maxGradNorm,
    seed: given.seed ?? d.seed,
  };
}
