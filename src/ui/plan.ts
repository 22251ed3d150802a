import { useMemo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { trainableCount } from '../adapters/load';
import { targetedModules } from '../formats/peft';
import { adapterSpecFor } from '../train/adapter-spec';
import { estimateTrainingMemory, memoryBudget, whyItDoesNotFit, type DeviceBudget, type MemoryEstimate } from '../train/memory';
import { reloraSettingsProblem, reloraTrainableCount } from '../worker/relora-settings';
import { describeIssues, validateSettings, type SettingsIssue } from '../worker/settings-validation';
import { useStudio } from './store/store';

export interface TrainingPlan {
  readonly trainable: number | null;
  /** Why the adapter settings are unusable (e.g. no target module). */
  readonly settingsProblem: string | null;
  /** Every invalid setting with its reason (the fields are marked; nothing below is computed from them). */
  readonly issues: readonly SettingsIssue[];
  readonly memory: MemoryEstimate | null;
  readonly budget: DeviceBudget | null;
  readonly fitProblem: string | null;
}

/** Trainable parameters and GPU memory of the run the settings describe, recomputed as they change. */
export function useTrainingPlan(): TrainingPlan {
  const { model, settings, gpuStatus, trainSequences } = useStudio(
    useShallow((s) => ({
      model: s.model,
      settings: s.settings,
      gpuStatus: s.gpuStatus,
      trainSequences: s.dataset?.trainSequences ?? null,
    })),
  );
  return useMemo(() => {
    const issues = validateSettings(settings, { config: model?.config ?? null, trainSequences });
    if (!model) return { trainable: null, settingsProblem: null, issues, memory: null, budget: null, fitProblem: null };
    if (issues.length > 0) {
      const settingsProblem =
        issues.length === 1 && issues[0]!.field === 'targets'
          ? issues[0]!.message
          : `${issues.length} setting${issues.length === 1 ? '' : 's'} to fix: ${describeIssues(issues)}`;
      return { trainable: null, settingsProblem, issues, memory: null, budget: null, fitProblem: null };
    }
    let trainable: number | null = null;
    let settingsProblem: string | null = null;
    let adapter: Parameters<typeof estimateTrainingMemory>[5];
    const relora = settings.method === 'relora';
    if (relora) {
      settingsProblem = reloraSettingsProblem(settings);
      if (settingsProblem === null) trainable = reloraTrainableCount(model.config, model.parameterCount, settings.rank);
    } else {
      try {
        const spec = adapterSpecFor({ ...settings, method: settings.method }, model.config);
        trainable = trainableCount(spec, model.config);
        adapter = { spec, modules: targetedModules(spec, model.config, 'adapter settings') };
      } catch (e) {
        settingsProblem = (e as Error).message;
      }
    }
    const microBatch = settings.batchSize;
    // ReLoRA's warm start trains every weight of a second copy of the model: copy + grad + AdamW m, v.
    const optimized = relora ? model.parameterCount : (trainable ?? 0);
    const limits = gpuStatus.kind === 'ready' ? gpuStatus.gpu : undefined;
    const memory = estimateTrainingMemory(model.config, model.parameterCount, optimized, microBatch, settings.seqLen, adapter, {
      checkpointing: settings.gradientCheckpointing,
      limits,
    });
    const deviceMemory = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
    const budget = gpuStatus.kind === 'ready' ? memoryBudget(gpuStatus.gpu, deviceMemory) : null;
    // What would make a run that does not fit fit: checkpointing first (same run, more compute), then shorter sequences.
    const estimateWith = (seqLen: number, checkpointing: boolean) =>
      estimateTrainingMemory(model.config, model.parameterCount, optimized, microBatch, seqLen, adapter, { checkpointing, limits });
    const alternatives = [
      ...(settings.gradientCheckpointing
        ? []
        : [{ change: 'turn on gradient checkpointing', estimate: estimateWith(settings.seqLen, true) }]),
      ...[2, 4]
        .map((d) => Math.max(2, Math.floor(settings.seqLen / d)))
        .map((seqLen) => ({
          change: `use sequences of ${seqLen} tokens${settings.gradientCheckpointing ? '' : ' with gradient checkpointing'}`,
          estimate: estimateWith(seqLen, true),
        })),
    ];
    const fitProblem = budget ? whyItDoesNotFit(memory, budget, alternatives) : null;
    return { trainable, settingsProblem, issues, memory, budget, fitProblem };
  }, [model, settings, gpuStatus, trainSequences]);
}
