import { useStudio } from '../store/store';
import { ErrorText, Panel } from './Panel';

/** `?profile`: each kernel's GPU time over the training steps so far, from timestamp-query. */
export function ProfilePanel() {
  const enabled = useStudio((s) => s.profileEnabled);
  const profile = useStudio((s) => s.kernelProfile);
  const error = useStudio((s) => s.profileError);
  if (!enabled) return null;
  const totalMs = profile?.kernels.reduce((t, k) => t + k.totalMs, 0) ?? 0;
  return (
    <Panel title="Kernel profile" testId="profile-panel" wide>
      <ErrorText message={error} />
      {!profile && !error && <p className="muted">Train to see each kernel's GPU time (timestamp-query, one pass per dispatch).</p>}
      {profile && (
        <>
          <p className="muted">
            After step {profile.step}: {totalMs.toFixed(1)} ms of GPU time in {profile.kernels.length} kernels.
          </p>
          <table className="profile" data-testid="profile-table">
            <thead>
              <tr>
                <th>kernel</th>
                <th>calls</th>
                <th>total ms</th>
                <th>mean µs</th>
                <th>share</th>
              </tr>
            </thead>
            <tbody>
              {profile.kernels.map((k) => (
                <tr key={k.kernel}>
                  <td>{k.kernel}</td>
                  <td>{k.calls}</td>
                  <td>{k.totalMs.toFixed(2)}</td>
                  <td>{((k.totalMs * 1000) / Math.max(1, k.calls)).toFixed(1)}</td>
                  <td>{totalMs > 0 ? `${((100 * k.totalMs) / totalMs).toFixed(1)} %` : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Panel>
  );
}
