import { useEffect, useRef, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, type Backup, type Database, type Restore } from '../api';
import { ErrorMessage } from '../components/ErrorMessage';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import { Elapsed } from '../components/Elapsed';
import { StageErrorView } from '../components/StageErrorView';
import { RestoreDialog } from '../components/RestoreDialog';
import { PinToggle } from '../components/PinToggle';
import { VersionBadges } from '../components/BackupNotes';
import { RetentionPanel, ScheduleSummary } from '../components/SchedulePanels';
import { engineLabel, formatBytes, formatDuration, shortSha, toolLabel } from '../format';
import { useBackup } from '../polling';
import { Link } from '../router';

/** One database: its facts, "Back up now", and its versions newest first. */
export function DatabasePage({ id }: { id: string }) {
  const db = useQuery({ queryKey: ['database', id], queryFn: () => api.getDatabase(id), refetchInterval: 10_000 });
  if (db.error) return <ErrorMessage error={db.error} />;
  if (!db.data) return <p className="placeholder">Loading…</p>;
  return <DatabaseView db={db.data} routeId={id} />;
}

function DatabaseView({ db, routeId }: { db: Database; routeId: string }) {
  const qc = useQueryClient();
  const backups = useQuery({ queryKey: ['backups', db.id], queryFn: () => api.listBackups(db.id) });
  const restores = useQuery({ queryKey: ['restores', db.id], queryFn: () => api.listRestores(db.id) });
  const [startedId, setStartedId] = useState<string | null>(null);
  const [restoring, setRestoring] = useState<Backup | null>(null);

  const runningId = startedId ?? db.running_backup_id;
  const running = useBackup(runningId);
  const runningBackup = running.data;

  const start = useMutation({
    mutationFn: () => api.startBackup(db.id),
    onSuccess: ({ id }) => {
      setStartedId(id);
      void qc.invalidateQueries({ queryKey: ['backups', db.id] });
    },
    onError: (e) => {
      // 409 "a backup of X is already running: <id>": follow that one instead.
      const id = e instanceof ApiError && e.status === 409 ? runningIdFrom(e.problem.detail) : null;
      if (id) {
        setStartedId(id);
        void qc.invalidateQueries({ queryKey: ['backups', db.id] });
      }
    },
  });
  const alreadyRunning = start.error instanceof ApiError && start.error.status === 409 && !!runningIdFrom(start.error.problem.detail);

  const pause = useMutation({
    mutationFn: () => (db.paused ? api.resumeDatabase(db.id) : api.pauseDatabase(db.id)),
    onSuccess: (d) => {
      qc.setQueryData(['database', routeId], d);
      qc.setQueryData(['database', d.id], d);
      void qc.invalidateQueries({ queryKey: ['databases'] });
      void qc.invalidateQueries({ queryKey: ['events'] });
    },
    onError: () => void qc.invalidateQueries({ queryKey: ['database', routeId] }),
  });

  // When the polled backup leaves "running", refresh everything that shows it.
  const lastStatus = useRef<string | undefined>(undefined);
  useEffect(() => {
    const status = runningBackup?.status;
    if (lastStatus.current === 'running' && status && status !== 'running') {
      void qc.invalidateQueries({ queryKey: ['backups', db.id] });
      void qc.invalidateQueries({ queryKey: ['database', routeId] });
      void qc.invalidateQueries({ queryKey: ['databases'] });
    }
    lastStatus.current = status;
  }, [runningBackup?.status, qc, db.id, routeId]);

  const isRunning = start.isPending || runningBackup?.status === 'running';
  const prunedCount = (backups.data ?? []).filter((b) => b.status === 'pruned').length;
  const removed = db.status === 'removed';

  return (
    <section className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/">Databases</Link> / {db.name}
      </nav>
      <div className="page-head">
        <h1>
          {db.name} {removed && <StatusBadge status="removed" />}
          {!removed && db.paused && db.schedule ? <StatusBadge status="paused" /> : null}
        </h1>
        <div className="head-actions">
          <Link to={`/timeline?database_id=${db.id}`} className="button">
            Timeline
          </Link>
          {!removed && (
            <Link to={`/databases/${db.id}/edit`} className="button">
              Edit
            </Link>
          )}
          {!removed && (db.schedule || db.paused) ? (
            <button
              type="button"
              onClick={() => pause.mutate()}
              disabled={pause.isPending}
              data-testid="pause-toggle"
              title={db.paused ? 'Start scheduled backups again' : 'Stop scheduled backups; “Back up now” still works'}
            >
              {db.paused ? 'Resume schedule' : 'Pause schedule'}
            </button>
          ) : null}
          {!removed && (
            <button type="button" className="primary" onClick={() => start.mutate()} disabled={isRunning}>
              {isRunning ? 'Backing up…' : 'Back up now'}
            </button>
          )}
        </div>
      </div>

      <dl className="facts card">
        <div>
          <dt>Engine</dt>
          <dd>{engineLabel(db.engine)}</dd>
        </div>
        <div className="wide">
          <dt>Connection</dt>
          <dd>
            <code className="break">{db.connection}</code>
          </dd>
        </div>
        <div>
          <dt>Versions</dt>
          <dd>
            {db.backups_completed} completed
            {prunedCount > 0 ? ` (${prunedCount} since pruned)` : ''}, {db.backups_failed} failed
          </dd>
        </div>
        <div>
          <dt>Last good backup</dt>
          <dd>
            <Time iso={db.last_successful_backup_at} />
          </dd>
        </div>
        <div>
          <dt>Restores</dt>
          <dd>{db.restores_total}</dd>
        </div>
        <div>
          <dt>Registered</dt>
          <dd>
            <Time iso={db.created_at} />
          </dd>
        </div>
      </dl>

      {pause.error ? <ErrorMessage error={pause.error} /> : null}

      <div className="panels">
        <ScheduleSummary db={db} />
        <RetentionPanel db={db} />
      </div>

      <div className="progress-slot" aria-live="polite">
        {start.error && alreadyRunning ? (
          <p className="alert alert-warn">A backup of {db.name} was already running; showing its progress.</p>
        ) : start.error ? (
          <ErrorMessage error={start.error} />
        ) : null}
        {runningBackup && (startedId !== null || runningBackup.status === 'running') ? (
          <BackupProgress backup={runningBackup} />
        ) : start.isPending ? (
          <div className="progress card">
            <span className="spinner" aria-hidden="true" /> Starting backup…
          </div>
        ) : null}
      </div>

      <h2>Versions</h2>
      {backups.error ? <ErrorMessage error={backups.error} /> : null}
      {backups.isPending ? <p className="placeholder">Loading versions…</p> : null}
      {backups.data && backups.data.length === 0 ? (
        <p className="empty card">No versions yet. Use “Back up now” to make the first one.</p>
      ) : null}
      {backups.data && backups.data.length > 0 ? (
        <ol className="versions" aria-label="Versions, newest first">
          {backups.data.map((b) => (
            <VersionItem
              key={b.id}
              backup={runningBackup && runningBackup.id === b.id ? runningBackup : b}
              onRestore={removed ? undefined : () => setRestoring(b)}
              canPin={!removed}
            />
          ))}
        </ol>
      ) : null}

      <h2>Restores</h2>
      {restores.error ? <ErrorMessage error={restores.error} /> : null}
      {restores.data && restores.data.length === 0 ? <p className="muted">No restores from or into this database.</p> : null}
      {restores.data && restores.data.length > 0 ? <RestoreList restores={restores.data} dbId={db.id} /> : null}

      {restoring && <RestoreDialog backup={restoring} source={db} onClose={() => setRestoring(null)} />}
    </section>
  );
}

function BackupProgress({ backup }: { backup: Backup }) {
  if (backup.status === 'running') {
    return (
      <div className="progress card" data-testid="backup-progress" data-status="running">
        <div className="progress-line">
          <StatusBadge status="running" /> Backing up with {backup.tool ?? 'the dump tool'} — <Elapsed since={backup.started_at} />
          <span className="progress-bytes" data-testid="progress-bytes">
            {typeof backup.progress_bytes === 'number' ? `${formatBytes(backup.progress_bytes)} dumped so far` : '\u00a0'}
          </span>
        </div>
        <div className="bar indeterminate" aria-hidden="true">
          <span />
        </div>
      </div>
    );
  }
  return (
    <div className={`progress card result-${backup.status}`} data-testid="backup-progress" data-status={backup.status}>
      <div className="progress-line">
        <StatusBadge status={backup.status} />{' '}
        {backup.status === 'completed'
          ? `Backup finished in ${formatDuration(backup.duration_ms)}: ${formatBytes(backup.bytes)} stored.`
          : `Backup ${backup.status}.`}
      </div>
      {backup.error && <StageErrorView error={backup.error} />}
    </div>
  );
}

export function VersionItem({
  backup: b,
  onRestore,
  canPin = true,
}: {
  backup: Backup;
  onRestore?: (() => void) | undefined;
  canPin?: boolean;
}) {
  return (
    <li
      className={`version card status-${b.status}${b.pinned ? ' is-pinned' : ''}`}
      data-testid="version"
      data-status={b.status}
      data-pinned={b.pinned ? 'true' : 'false'}
      data-backup-id={b.id}
    >
      <div className="version-head">
        <StatusBadge status={b.status} />
        <Link to={`/backups/${b.id}`} className="version-time">
          <Time iso={b.started_at} />
        </Link>
        <span className="muted trigger">
          {b.trigger === 'scheduled' ? (
            <>
              <span className="badge badge-scheduled">Scheduled</span>
              {b.slot ? (
                <span className="slot">
                  {' '}
                  slot <Time iso={b.slot} />
                </span>
              ) : null}
            </>
          ) : (
            `by ${b.actor}`
          )}
        </span>
        <VersionBadges backup={b} />
        <span className="version-actions">
          {canPin && (b.status === 'completed' || b.pinned) && <PinToggle backup={b} />}
          {onRestore && b.status === 'completed' && (
            <button type="button" className="restore-button" onClick={onRestore}>
              Restore…
            </button>
          )}
        </span>
      </div>
      {b.status === 'pruned' ? (
        <p className="prune-note" data-testid="prune-note">
          Pruned <Time iso={b.pruned_at} />
          {b.prune_reason ? `: ${b.prune_reason}` : ''}.{' '}
          {b.artifact_deleted ? 'Its files are deleted; it can no longer be restored.' : 'Its files are being deleted.'}
          {b.deletion_error ? <span className="bad"> They could not be deleted yet: {b.deletion_error}</span> : null}
        </p>
      ) : null}
      <dl className="version-facts">
        <div>
          <dt>Duration</dt>
          <dd>{b.status === 'running' ? <Elapsed since={b.started_at} /> : formatDuration(b.duration_ms)}</dd>
        </div>
        <div>
          <dt>Stored</dt>
          <dd>{formatBytes(b.bytes)}</dd>
        </div>
        <div>
          <dt>Raw dump</dt>
          <dd>{formatBytes(b.raw_bytes)}</dd>
        </div>
        <div>
          <dt>SHA-256</dt>
          <dd>
            <code title={b.sha256 ?? undefined}>{shortSha(b.sha256)}</code>
          </dd>
        </div>
        <div>
          <dt>Tool</dt>
          <dd>{toolLabel(b.tool, b.tool_version)}</dd>
        </div>
        <div>
          <dt>Server</dt>
          <dd>{b.server_version ?? '—'}</dd>
        </div>
      </dl>
      {b.error && <StageErrorView error={b.error} />}
    </li>
  );
}

function RestoreList({ restores, dbId }: { restores: Restore[]; dbId: string }) {
  return (
    <table className="table responsive">
      <thead>
        <tr>
          <th scope="col">Started</th>
          <th scope="col">Direction</th>
          <th scope="col">Status</th>
          <th scope="col" className="num">
            Duration
          </th>
        </tr>
      </thead>
      <tbody>
        {restores.map((r) => (
          <tr key={r.id}>
            <td data-label="Started">
              <Link to={`/restores/${r.id}`}>
                <Time iso={r.started_at} />
              </Link>
            </td>
            <td data-label="Direction">
              {r.target_database_id === dbId && r.source_database_id === dbId
                ? 'into itself'
                : r.target_database_id === dbId
                  ? 'into this database, from another'
                  : `into ${r.target_database_name}`}
            </td>
            <td data-label="Status">
              <StatusBadge status={r.status} />
            </td>
            <td data-label="Duration" className="num">
              {formatDuration(r.duration_ms)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The running backup's id from a 409 "a backup of X is already running: <id>". */
export function runningIdFrom(detail: string | undefined): string | null {
  const m = /already running:?\s*([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i.exec(detail ?? '');
  return m ? m[1]! : null;
}
