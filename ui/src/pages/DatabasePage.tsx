import { useEffect, useId, useRef, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, type Backup, type Database, type Drill, type DrillAnomaly, type Restore } from '../api';
import { ErrorMessage } from '../components/ErrorMessage';
import { ProgressMeter } from '../components/ProgressMeter';
import { CancelButton } from '../components/CancelButton';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import { Elapsed } from '../components/Elapsed';
import { StageErrorView } from '../components/StageErrorView';
import { RestoreDialog } from '../components/RestoreDialog';
import { VersionsTable } from '../components/VersionsTable';
import { DatabaseLink, VersionLink } from '../components/Refs';
import { RetentionPanel, ScheduleSummary } from '../components/SchedulePanels';
import { RecoveryPanel } from '../components/RecoveryPanel';
import { DrillPanel } from '../components/DrillPanel';
import { engineLabel, formatBytes, formatDuration, plural } from '../format';
import { describeBackupJobs, describeRestoreJobs } from '../jobs';
import { useBackup } from '../polling';
import { Link } from '../router';
import { restoreDenial, useAccess } from '../access';
import { Denied } from '../components/Denied';

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
  const drills = useQuery({
    queryKey: ['drills', db.id],
    queryFn: () => api.listDrills(db.id),
    refetchInterval: (q) => (q.state.data?.some((d) => d.status === 'running') ? 2_000 : false),
  });
  const rehearsed = new Set((drills.data ?? []).filter((d) => d.status === 'completed').map((d) => d.version));
  const drillNow = useMutation({
    mutationFn: () => api.startDrill(db.id),
    onSettled: () => {
      void qc.invalidateQueries({ queryKey: ['drills', db.id] });
      void qc.invalidateQueries({ queryKey: ['database', routeId] });
    },
  });
  const [startedId, setStartedId] = useState<string | null>(null);
  const [restoring, setRestoring] = useState<Backup | null>(null);
  const { session, deny } = useAccess();
  const all = useQuery({ queryKey: ['databases'], queryFn: () => api.listDatabases(), enabled: session?.role === 'operator' });
  const noBackup = deny('backup');
  const noManage = deny('manage');
  const noRestore = restoreDenial(session, db, all.data);
  const noBackupId = useId();
  const noRestoreId = useId();

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
  // Counted from the list below, so that the numbers and the list agree.
  const restoreCount = restores.data ? restoreCounts(restores.data, db.id) : null;
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
          {!removed && !noManage && (
            <Link to={`/databases/${db.id}/edit`} className="button">
              Edit
            </Link>
          )}
          {!removed && !noManage && (db.schedule || db.paused) ? (
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
            <button
              type="button"
              className="primary"
              onClick={() => start.mutate()}
              disabled={isRunning || !!noBackup}
              aria-describedby={noBackup ? noBackupId : undefined}
            >
              {isRunning ? 'Backing up…' : 'Back up now'}
            </button>
          )}
          {!removed && <Denied id={noBackupId} reason={noBackup} />}
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
          <dd data-testid="restore-counts">
            {restoreCount ? (
              <>
                {plural(restoreCount.into, 'restore')} into it
                <span className="sub">
                  {plural(restoreCount.fromVersions, 'restore')} of its versions into other databases
                </span>
              </>
            ) : (
              '…'
            )}
          </dd>
        </div>
        {db.engine === 'postgres' ? (
          <div>
            <dt>Parallel jobs</dt>
            <dd data-testid="parallel-jobs">
              Backups: {describeBackupJobs(db.backup_jobs)}
              <span className="sub">Restores: {describeRestoreJobs(db.restore_jobs)}</span>
            </dd>
          </div>
        ) : null}
        {db.drill || db.last_drill ? (
          <div>
            <dt>Restore drill</dt>
            <dd data-testid="last-drill">
              <DrillLine db={db} drills={drills.data ?? []} />
              {db.drill && !removed ? (
                <button
                  type="button"
                  onClick={() => drillNow.mutate()}
                  disabled={drillNow.isPending || !!noBackup}
                  title={noBackup ?? undefined}
                  data-testid="drill-now"
                >
                  Run drill now
                </button>
              ) : null}
            </dd>
          </div>
        ) : null}
        <div>
          <dt>Registered</dt>
          <dd>
            <Time iso={db.created_at} />
          </dd>
        </div>
      </dl>

      {pause.error ? <ErrorMessage error={pause.error} /> : null}
      {drillNow.error ? <ErrorMessage error={drillNow.error} /> : null}

      <div className="panels">
        <ScheduleSummary db={db} />
        <RetentionPanel db={db} />
        <DrillPanel db={db} />
      </div>

      {db.engine === 'postgres' ? <RecoveryPanel db={db} /> : null}

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
        <>
          {!removed && noRestore ? (
            <p className="denied" id={noRestoreId} data-testid="restore-denied">
              {noRestore}
            </p>
          ) : null}
          <VersionsTable
            backups={backups.data.map((b) => (runningBackup && runningBackup.id === b.id ? runningBackup : b))}
            onRestore={removed ? undefined : setRestoring}
            restoreDeniedBy={noRestore ? noRestoreId : undefined}
            canPin={!removed}
            rehearsed={rehearsed}
          />
        </>
      ) : null}

      <h2>Restores</h2>
      {restores.error ? <ErrorMessage error={restores.error} /> : null}
      {restores.data && restores.data.length === 0 ? <p className="muted">No restores from or into this database.</p> : null}
      {restores.data && restores.data.length > 0 ? <RestoreList restores={restores.data} db={db} backups={backups.data ?? []} /> : null}

      {restoring && <RestoreDialog backup={restoring} source={db} onClose={() => setRestoring(null)} />}
    </section>
  );
}

/** "Last drill passed … restored in 42 s", or what went wrong, from the newest drill. */
export function DrillLine({ db, drills }: { db: Database; drills: Drill[] }) {
  const latest = drills[0];
  // The drill list is polled while a drill runs; the database's summary may be older than it.
  const last =
    latest && (!db.last_drill || db.last_drill.id === latest.id)
      ? { ...latest, tables: latest.tables.length, anomalies: latest.anomalies.length }
      : db.last_drill;
  if (latest?.status === 'running' || last?.status === 'running') return <span>A drill is running…</span>;
  if (!last) return <span className="muted">No drill yet</span>;
  if (last.status === 'failed') {
    return (
      <span className="bad">
        Last drill failed <Time iso={last.finished_at} />
        {latest?.id === last.id && latest.error ? `: ${latest.error}` : ''}
      </span>
    );
  }
  if (last.anomalies > 0) {
    const what = latest?.id === last.id ? latest.anomalies.map(describeAnomaly).join('; ') : plural(last.anomalies, 'anomaly', 'anomalies');
    return (
      <span className="bad">
        Last drill <Time iso={last.finished_at} /> restored in {formatDuration(last.duration_ms)} but found: {what}
      </span>
    );
  }
  return (
    <span>
      Last drill passed <Time iso={last.finished_at} />, restored in {formatDuration(last.duration_ms)}
      <span className="sub">{plural(last.tables, 'table')} counted and checksummed</span>
    </span>
  );
}

export function describeAnomaly(a: DrillAnomaly): string {
  return a.kind === 'vanished'
    ? `${a.table} vanished (had ${a.previous_rows} rows)`
    : `${a.table} went from ${a.previous_rows} to ${a.rows} rows`;
}

function BackupProgress({ backup }: { backup: Backup }) {
  if (backup.status === 'running') {
    return (
      <div className="progress card" data-testid="backup-progress" data-status="running">
        <div className="progress-line">
          <StatusBadge status="running" /> Backing up with {backup.tool ?? 'the dump tool'} — <Elapsed since={backup.started_at} />
          <CancelButton kind="backup" id={backup.id} requestedBy={backup.cancel_requested_by} />
        </div>
        <ProgressMeter progress={backup.progress} fallbackBytes={backup.progress_bytes} />
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

/** Restores into this database, and restores of its versions into other databases. */
export function restoreCounts(restores: Restore[], dbId: string): { into: number; fromVersions: number } {
  const into = restores.filter((r) => r.target_database_id === dbId).length;
  const fromVersions = restores.filter((r) => r.source_database_id === dbId && r.target_database_id !== dbId).length;
  return { into, fromVersions };
}

function RestoreList({ restores, db, backups }: { restores: Restore[]; db: Database; backups: Backup[] }) {
  const byId = new Map(backups.map((b) => [b.id, b]));
  return (
    <table className="table responsive restores-table" data-testid="restores">
      <caption className="visually-hidden">Restores into {db.name} and of its versions, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Started</th>
          <th scope="col">Direction</th>
          <th scope="col">Version restored</th>
          <th scope="col">Status</th>
          <th scope="col" className="num">
            Duration
          </th>
        </tr>
      </thead>
      <tbody>
        {restores.map((r) => {
          const into = r.target_database_id === db.id;
          const own = r.source_database_id === db.id;
          return (
            <tr key={r.id} data-testid="restore" data-direction={into ? (own ? 'itself' : 'into') : 'from'}>
              <th scope="row" data-label="Started">
                <Link to={`/restores/${r.id}`} title={`Restore id ${r.id}`}>
                  <Time iso={r.started_at} />
                </Link>
              </th>
              <td data-label="Direction">
                {into && own ? (
                  'Into this database, from its own version'
                ) : into ? (
                  <>
                    Into this database, from <DatabaseLink id={r.source_database_id} />
                  </>
                ) : (
                  <>
                    From this database, into{' '}
                    <Link to={`/databases/${r.target_database_id}`} title={`Database id ${r.target_database_id}`}>
                      {r.target_database_name}
                    </Link>
                  </>
                )}
              </td>
              <td data-label="Version restored">
                {r.target_time || r.target_lsn ? (
                  <span data-testid="point-in-time">
                    As it was at {r.target_time ? <Time iso={r.target_time} /> : <code>{r.target_lsn}</code>}
                  </span>
                ) : (
                  <VersionLink id={r.backup_id} backup={byId.get(r.backup_id)} />
                )}
              </td>
              <td data-label="Status">
                <StatusBadge status={r.status} />
              </td>
              <td data-label="Duration" className="num">
                {formatDuration(r.duration_ms)}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** The running backup's id from a 409 "a backup of X is already running: <id>". */
export function runningIdFrom(detail: string | undefined): string | null {
  const m = /already running:?\s*([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i.exec(detail ?? '');
  return m ? m[1]! : null;
}
