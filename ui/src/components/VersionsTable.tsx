import { useEffect, useId, useState } from 'react';
import type { Backup } from '../api';
import { formatBytes, formatDuration, formatTime, plural } from '../format';
import { Link } from '../router';
import { PinToggle } from './PinToggle';
import { DownloadButton } from './DownloadButton';
import { CancelButton } from './CancelButton';
import { StatusBadge } from './StatusBadge';
import { Time } from './Time';
import { Elapsed } from './Elapsed';
import { VerifiedBadge, warningCount } from './BackupNotes';

export const VERSIONS_PER_PAGE = 10;

/** `user:<uuid>` → `user 01a22e72…` (the whole id is in the title; names are on the timeline). */
export function shortActor(actor: string): string {
  const m = /^(user|token):([0-9a-f]{8})[0-9a-f-]{20,}$/i.exec(actor);
  return m ? `${m[1]} ${m[2]}…` : actor;
}

/**
 * A database's versions, newest first, one compact row each: status, time, size, duration,
 * verification and the actions (restore, pin). Everything else (tool, server, sha256, copies) is
 * on the version's own page, behind "Details". Paged on the client: the list comes whole.
 */
export function VersionsTable({
  backups,
  onRestore,
  canPin = true,
  restoreDeniedBy,
  pageSize = VERSIONS_PER_PAGE,
  rehearsed,
}: {
  /** Id of the reason this principal may not restore: the buttons are disabled and point at it. */
  restoreDeniedBy?: string | undefined;
  backups: Backup[];
  /** Ids of versions a restore drill restored. */
  rehearsed?: ReadonlySet<string> | undefined;
  /** Absent: no restore action (e.g. a removed database). */
  onRestore?: ((b: Backup) => void) | undefined;
  canPin?: boolean;
  pageSize?: number;
}) {
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(backups.length / pageSize));
  // The list can shrink (pruning) while a later page is shown.
  useEffect(() => {
    if (page > pages - 1) setPage(pages - 1);
  }, [page, pages]);
  const current = Math.min(page, pages - 1);
  const first = current * pageSize;
  const shown = backups.slice(first, first + pageSize);
  const captionId = useId();

  return (
    <div className="versions-block">
      <table className="table responsive versions-table" aria-labelledby={captionId} data-testid="versions">
        <caption id={captionId} className="visually-hidden">
          Versions, newest first
          {pages > 1 ? `, page ${current + 1} of ${pages}` : ''}
        </caption>
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Time</th>
            <th scope="col" className="num">
              Size
            </th>
            <th scope="col" className="num">
              Duration
            </th>
            <th scope="col">Verification</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {shown.map((b) => (
            <VersionRow
              key={b.id}
              backup={b}
              onRestore={onRestore ? () => onRestore(b) : undefined}
              restoreDeniedBy={restoreDeniedBy}
              canPin={canPin}
              rehearsed={rehearsed?.has(b.id) ?? false}
            />
          ))}
        </tbody>
      </table>
      {pages > 1 ? (
        <nav className="pager" aria-label="Versions pages" data-testid="versions-pager">
          <button type="button" onClick={() => setPage(current - 1)} disabled={current === 0}>
            <span aria-hidden="true">←</span> Newer
          </button>
          <span className="pager-status" aria-live="polite">
            {first + 1}–{first + shown.length} of {plural(backups.length, 'version')}
          </span>
          <button type="button" onClick={() => setPage(current + 1)} disabled={current >= pages - 1}>
            Older <span aria-hidden="true">→</span>
          </button>
        </nav>
      ) : null}
    </div>
  );
}

export function VersionRow({
  backup: b,
  onRestore,
  restoreDeniedBy,
  canPin = true,
  rehearsed = false,
}: {
  backup: Backup;
  onRestore?: (() => void) | undefined;
  restoreDeniedBy?: string | undefined;
  canPin?: boolean;
  rehearsed?: boolean;
}) {
  const timeId = useId();
  const warnings = b.warnings ?? [];
  return (
    <tr
      className={`version status-${b.status}${b.pinned ? ' is-pinned' : ''}`}
      data-testid="version"
      data-status={b.status}
      data-pinned={b.pinned ? 'true' : 'false'}
      data-backup-id={b.id}
    >
      <td data-label="Status" className="version-status">
        <span className="version-badges">
          <StatusBadge status={b.status} />
          {warnings.length > 0 ? (
            <span className="badge badge-warn" title={warnings.join('\n')} data-testid="warnings-badge">
              <span aria-hidden="true">⚠</span> {warningCount(warnings.length)}
            </span>
          ) : null}
          {b.degraded ? (
            <span className="badge badge-degraded" title="Completed, but at least one destination did not get its copy" data-testid="degraded-badge">
              Degraded
            </span>
          ) : null}
        </span>
        {b.error ? (
          <span className="sub bad version-error" title={b.error.message}>
            Failed at {b.error.stage}: {b.error.message}
          </span>
        ) : null}
        {b.status === 'pruned' ? (
          <span className="sub prune-note" data-testid="prune-note">
            Pruned <Time iso={b.pruned_at} />
            {b.prune_reason ? `: ${b.prune_reason}` : ''}.{' '}
            {b.artifact_deleted ? 'Its files are deleted; it can no longer be restored.' : 'Its files are being deleted.'}
            {b.deletion_error ? <span className="bad"> They could not be deleted yet: {b.deletion_error}</span> : null}
          </span>
        ) : null}
      </td>
      <th scope="row" data-label="Time" id={timeId}>
        <Link to={`/backups/${b.id}`} className="version-time">
          <Time iso={b.started_at} />
        </Link>
        <span className="sub trigger" title={b.trigger === 'scheduled' ? undefined : b.actor}>
          {b.trigger === 'scheduled' ? (
            <>
              Scheduled{b.slot ? <> (slot {formatTime(b.slot, { seconds: false })})</> : null}
            </>
          ) : (
            `By ${shortActor(b.actor)}`
          )}
        </span>
      </th>
      <td data-label="Size" className="num">
        {formatBytes(b.bytes)}
      </td>
      <td data-label="Duration" className="num">
        {b.status === 'running' ? <Elapsed since={b.started_at} /> : formatDuration(b.duration_ms)}
      </td>
      <td data-label="Verification">
        <Verification backup={b} />
        {rehearsed ? (
          <span className="badge badge-verified" data-testid="rehearsed" title="A restore drill restored this version and checked its tables">
            <span aria-hidden="true">✓</span> Rehearsed
          </span>
        ) : null}
      </td>
      <td data-label="Actions" className="version-actions">
        <div className="row-actions">
          {onRestore && b.status === 'completed' ? (
            <button
              type="button"
              className="restore-button"
              onClick={onRestore}
              disabled={!!restoreDeniedBy}
              aria-describedby={restoreDeniedBy ? `${timeId} ${restoreDeniedBy}` : timeId}
            >
              Restore…
            </button>
          ) : null}
          {canPin && (b.status === 'completed' || b.pinned) ? <PinToggle backup={b} describedBy={timeId} /> : null}
          {canPin && b.status === 'completed' ? <DownloadButton backup={b} describedBy={timeId} /> : null}
          {canPin && b.status === 'running' ? (
            <CancelButton kind="backup" id={b.id} requestedBy={b.cancel_requested_by} describedBy={timeId} />
          ) : null}
          <Link to={`/backups/${b.id}`} className="button details-link" title={`Backup id ${b.id}`} aria-describedby={timeId}>
            Details
          </Link>
        </div>
      </td>
    </tr>
  );
}

function Verification({ backup: b }: { backup: Backup }) {
  if (b.verified_ok === true || b.verified_ok === false) {
    const title = [b.verified_at ? `Checked ${formatTime(b.verified_at)}` : null, b.verification_detail].filter(Boolean).join(': ');
    return <VerifiedBadge ok={b.verified_ok} title={title || undefined} />;
  }
  if (b.status === 'completed') return <span className="muted">Not verified</span>;
  return <span className="muted">—</span>;
}
