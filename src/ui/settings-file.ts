import type { TrainSettings } from '../worker/protocol';
import { SETTINGS_FILE_NAME } from './store/settings-slice';

/** Downloads the run's settings as one JSON object (the keys of TrainSettings), loadable again by "Load settings…". */
export function saveSettingsFile(settings: TrainSettings): void {
  const url = URL.createObjectURL(new Blob([`${JSON.stringify(settings, null, 2)}\n`], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = SETTINGS_FILE_NAME;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
