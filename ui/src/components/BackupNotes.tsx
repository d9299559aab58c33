import type { Backup, BackupCopy } from '../api';

/** "1 warning", "3 warnings". */
export function warningCount(n: number): string {
  return `${n} warning${n === 1 ? '' : 's'}`;
}

/** What the dump tool is known not to keep exactly, each in full (backup page). */
export function BackupWarnings({
  warnings,
  what = 'this version may not keep everything exactly',
}: {
  warnings: string[] | undefined;
  what?: string;
}) {
  if (!warnings?.length) return null;
  return (
    <div className="alert alert-warn backup-warnings" role="note" data-testid="backup-warnings">
      <strong>
        <span aria-hidden="true">⚠</span> {warningCount(warnings.length)}: {what}
      </strong>
      <ul>
        {warnings.map((w, i) => (
          <li key={i}>{w}</li>
        ))}
      </ul>
    </div>
  );
}

/** Completed, but at least one destination did not get its copy. */
export function DegradedNote({ backup: b }: { backup: Backup }) {
  if (!b.degraded) return null;
  const failed = (b.copies ?? []).filter((c) => !c.ok).map((c) => c.name);
  return (
    <div className="alert alert-warn" role="note" data-testid="degraded-note">
      <strong>Degraded</strong>
      <p>
        The backup completed, but{' '}
        {failed.length > 0
          ? `${failed.join(', ')} did not get ${failed.length === 1 ? 'its copy' : 'their copies'}`
          : 'at least one destination did not get its copy'}
        . It can still be restored from the copies that were stored.
      </p>
    </div>
  );
}

/** Where the artifact was streamed to, one row per destination. */
export function CopiesTable({ copies }: { copies: BackupCopy[] }) {
  return (
    <table className="table responsive copies" data-testid="copies">
      <thead>
        <tr>
          <th scope="col">Destination</th>
          <th scope="col">Storage</th>
          <th scope="col">Copy</th>
        </tr>
      </thead>
      <tbody>
        {copies.map((c) => (
          <tr key={`${c.name}:${c.key}`} data-testid="copy" data-ok={c.ok ? 'true' : 'false'}>
            <th scope="row">{c.name}</th>
            <td data-label="Storage" className="copy-storage">
              <code className="break" title={c.key}>
                {c.storage}
              </code>
            </td>
            <td data-label="Copy">
              {c.ok ? (
                <span className="ok">✓ stored</span>
              ) : (
                <>
                  <span className="bad">✗ failed</span>
                  {c.error ? <span className="copy-error">{c.error}</span> : null}
                </>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The outcome of a verification as a badge: text plus colour. */
export function VerifiedBadge({ ok, title }: { ok: boolean | null | undefined; title?: string | undefined }) {
  if (ok === null || ok === undefined) return null;
  return ok ? (
    <span className="badge badge-verified" data-verified="ok" title={title}>
      <span aria-hidden="true">✓</span> Verified
    </span>
  ) : (
    <span className="badge badge-verify-failed" data-verified="failed" title={title}>
      <span aria-hidden="true">✗</span> Verification failed
    </span>
  );
}
