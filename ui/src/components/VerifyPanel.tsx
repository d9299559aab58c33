import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, type Backup } from '../api';
import { VerifiedBadge } from './BackupNotes';
import { ErrorMessage } from './ErrorMessage';
import { Time } from './Time';
import { Denied } from './Denied';
import { useAccess } from '../access';

/**
 * The last verification of a version and "Verify now" (completed versions only): the server re-reads
 * every stored copy (sha256, decrypt, decompress). `ok: false` is a failed check, shown as such;
 * a 404/409 is an error. Afterwards the backup is fetched again so `verified_at` etc. are the new ones.
 */
export function VerifyPanel({ backup: b }: { backup: Backup }) {
  const qc = useQueryClient();
  const noVerify = useAccess().deny('verify');
  const verify = useMutation({
    mutationFn: () => api.verifyBackup(b.id),
    // Returning the refetch keeps the button busy until the page shows the recorded result.
    onSuccess: () =>
      Promise.all([
        qc.invalidateQueries({ queryKey: ['backup', b.id] }),
        qc.invalidateQueries({ queryKey: ['backups', b.database_id] }),
      ]),
    // A 409 usually means the version changed meanwhile (e.g. pruned): show what it is now.
    onError: () => void qc.invalidateQueries({ queryKey: ['backup', b.id] }),
  });
  const canVerify = b.status === 'completed';
  const fresh = verify.data;
  const last =
    fresh !== undefined
      ? { ok: fresh.ok, detail: fresh.detail, at: b.verified_at ?? null }
      : b.verified_at || typeof b.verified_ok === 'boolean'
        ? { ok: b.verified_ok ?? null, detail: b.verification_detail ?? null, at: b.verified_at ?? null }
        : null;
  if (!canVerify && !last && !verify.error) return null;

  return (
    <section
      className="card panel verify-panel"
      aria-labelledby="verify-h"
      data-testid="verification"
      data-state={last === null ? 'never' : last.ok ? 'ok' : 'failed'}
    >
      <div className="panel-head">
        <h2 id="verify-h">Verification</h2>
        {canVerify ? (
          <button
            type="button"
            onClick={() => verify.mutate()}
            disabled={verify.isPending || !!noVerify}
            aria-describedby={noVerify ? 'verify-denied' : undefined}
          >
            {verify.isPending ? (
              <>
                <span className="spinner" aria-hidden="true" /> Verifying…
              </>
            ) : (
              'Verify now'
            )}
          </button>
        ) : null}
      </div>
      {canVerify ? <Denied id="verify-denied" reason={noVerify} /> : null}
      <div role="status" data-testid="verification-result">
        {last === null ? (
          <p className="muted">
            Never verified.{canVerify ? ' “Verify now” reads every stored copy back and checks its SHA-256 and that it unpacks.' : ''}
          </p>
        ) : (
          <>
            <p className="verify-line">
              <VerifiedBadge ok={last.ok} />{' '}
              <span className="muted">
                {last.at ? <Time iso={last.at} /> : fresh !== undefined ? 'just now' : null}
              </span>
            </p>
            {last.detail ? <p className="verify-detail">{last.detail}</p> : null}
          </>
        )}
      </div>
      {verify.error ? <ErrorMessage error={verify.error} /> : null}
    </section>
  );
}
