import { create } from 'zustand';
import { createCheckpointSlice, type CheckpointSlice } from './checkpoint-slice';
import { createDatasetSlice, type DatasetSlice } from './dataset-slice';
import { createExportSlice, type ExportSlice } from './export-slice';
import { createGenerationSlice, type GenerationSlice } from './generation-slice';
import { createModelSlice, type ModelSlice } from './model-slice';
import { createProfileSlice, type ProfileSlice } from './profile-slice';
import { createSettingsSlice, storeSettings, type SettingsSlice } from './settings-slice';
import { createTrainingSlice, type TrainingSlice } from './training-slice';

export type StudioState = ModelSlice &
  DatasetSlice &
  SettingsSlice &
  TrainingSlice &
  CheckpointSlice &
  GenerationSlice &
  ExportSlice &
  ProfileSlice;

/** One store, one slice per concern; each slice keeps its actions beside its state. */
export const useStudio = create<StudioState>()((...a) => ({
  ...createModelSlice(...a),
  ...createDatasetSlice(...a),
  ...createSettingsSlice(...a),
  ...createTrainingSlice(...a),
  ...createCheckpointSlice(...a),
  ...createGenerationSlice(...a),
  ...createExportSlice(...a),
  ...createProfileSlice(...a),
}));

// The run's settings outlive the page: the next visit opens with them (restoreSettings).
useStudio.subscribe((s, before) => {
  if (s.settings !== before.settings || s.explicitSettings !== before.explicitSettings || s.checkpointEvery !== before.checkpointEvery)
    storeSettings({ settings: s.settings, explicit: s.explicitSettings, checkpointEvery: s.checkpointEvery });
});
