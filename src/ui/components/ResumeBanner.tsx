import { useShallow } from 'zustand/react/shallow';
import type { CheckpointSummary } from '../../worker/protocol';
import { METHOD_LABEL } from '../../worker/settings-validation';
import { resumeNeeds } from '../store/checkpoint-slice';
import { useStudio } from '../store/store';
import { isRunActive } from '../store/training-slice';

/**
 * Above the panels: what happened to the GPU device when it was lost, and the offer to resume the
 * saved run (after a reload or a lost device), with what resuming needs and why it was refused.
 */
export function ResumeBanner() {
  const { offer, lost } = useStudio(useShallow((s) => ({ offer: s.resumeOffer, lost: s.deviceLostMessage })));
  if (!offer && !lost) return null;
  return (
    <section className={lost ? 'banner lost' : 'banner'} data-testid="resume-banner" aria-label="Saved run">
      {lost && (
        <p role="alert" data-testid="device-lost-message">
          <strong>GPU device lost.</strong> {lost} Your settings, the dataset and the last checkpoint are kept.
        </p>
      )}
      {offer && <ResumeOffer offer={offer} />}
    </section>
  );
}

function ResumeOffer({ offer }: { offer: CheckpointSummary }) {
  const s = useStudio(
    useShallow((s) => ({
      // Primitives only: useShallow compares one level deep.
      modelOk: resumeNeeds(s, offer).model,
      datasetOk: resumeNeeds(s, offer).dataset,
      active: isRunActive(s.trainingStatus),
      error: s.resumeError,
      resume: s.resumeRun,
      discard: s.discardCheckpoint,
    })),
  );
  const finished = offer.step >= offer.totalSteps;
  const saved = new Date(offer.savedAt).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
  return (
    <div className="resume-offer" data-testid="resume-offer" data-step={offer.step}>
      <p>
        <strong>{finished ? 'A finished run is saved' : 'A run was interrupted'}:</strong> {METHOD_LABEL[offer.settings.method]} on{' '}
        {offer.modelName} with {offer.datasetName}, saved at step {offer.step} of {offer.totalSteps} ({saved}).
      </p>
      <p className="muted" data-testid="resume-needs">
        Needs the model {offer.modelName} ({s.modelOk ? 'loaded' : 'load it first'}) and the dataset {offer.datasetName} (
        {offer.datasetKept ? 'kept with the checkpoint' : s.datasetOk ? 'loaded' : 'load that file first'}). The run goes on with its own
        settings; starting a new run replaces this checkpoint.
      </p>
      <div className="row">
        <button type="button" data-testid="resume-run" disabled={s.active || !s.modelOk || !s.datasetOk} onClick={s.resume}>
          {finished ? `Restore the adapter of step ${offer.step}` : `Resume run from step ${offer.step}`}
        </button>
        <button type="button" data-testid="discard-checkpoint" disabled={s.active} onClick={s.discard}>
          Discard checkpoint
        </button>
      </div>
      {s.error && (
        <p className="error" role="alert" data-testid="resume-error">
          Cannot resume: {s.error}.
        </p>
      )}
    </div>
  );
}
