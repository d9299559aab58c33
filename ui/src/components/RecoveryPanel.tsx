import { useId, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type ArchiveStatus, type Database } from '../api';
import { ErrorMessage } from './ErrorMessage';
import { StatusBadge } from './StatusBadge';
import { Time } from './Time';
import { PitrDialog } from './PitrDialog';

/**
 * Point-in-time recovery of a PostgreSQL database: its server's WAL archiving (enable, disable),
 * "Take base backup now", the recoverable window with its gaps, and "Restore to a point in time".
 */
export function RecoveryPanel({ db }: { db: Database }) {
  const archive = useQuery({
    queryKey: ['archiving', db.id],
    queryFn: () => api.getArchiving(db.id),
    refetchInterval: 10_000,
  });
  const everEnabled = !!archive.data?.server;
  const window = useQuery({
    queryKey: ['recovery-window', db.id],
    queryFn: () => api.recoveryWindow(db.id),
    enabled: everEnabled,
    refetchInterval: 10_000,
  });
  const [restoring, setRestoring] = useState(false);
  if (archive.error) {
    return (
      <section className="card recovery" aria-labelledby={`recovery-${db.id}`} data-testid="recovery">
        <h2 id={`recovery-${db.id}`}>Point-in-time recovery</h2>
        <p className="muted">The archiving state could not be read: {String((archive.error as Error).message)}</p>
      </section>
    );
  }
  if (!archive.data) return null;
  const a = archive.data;
  return (
    <section className="card recovery" aria-labelledby={`recovery-${db.id}`} data-testid="recovery">
      <h2 id={`recovery-${db.id}`}>Point-in-time recovery</h2>
      {a.enabled ? <ArchivingOn db={db} archive={a} /> : <ArchivingOff db={db} archive={a} />}
      {everEnabled ? (
        <>
          <h3>Recoverable window</h3>
          {window.error ? <ErrorMessage error={window.error} /> : null}
          {window.data && window.data.intervals.length === 0 ? (
            <p className="muted" data-testid="window-empty">
              Nothing can be restored to a second yet: take a base backup, then the WAL after it is archived.
            </p>
          ) : null}
          {window.data && window.data.intervals.length > 0 ? (
            <ul className="window" data-testid="window">
              {window.data.intervals.map((i) => (
                <li key={i.from} data-testid="interval">
                  <Time iso={i.from} /> — <Time iso={i.to} />
                </li>
              ))}
            </ul>
          ) : null}
          {window.data?.gaps.map((g) => (
            <p key={g.missing_segment} className="alert alert-error" data-testid="gap">
              WAL segment <code>{g.missing_segment}</code> is missing from the archive: no second after{' '}
              {g.after ? <Time iso={g.after} /> : 'its base backup'} can be restored until the next base backup.
            </p>
          ))}
          {window.data && window.data.intervals.length > 0 && db.status === 'active' ? (
            <div className="actions">
              <button type="button" onClick={() => setRestoring(true)}>
                Restore to a point in time…
              </button>
            </div>
          ) : null}
        </>
      ) : null}
      {restoring && window.data ? (
        <PitrDialog source={db} intervals={window.data.intervals} onClose={() => setRestoring(false)} />
      ) : null}
    </section>
  );
}

function ArchivingOn({ db, archive }: { db: Database; archive: ArchiveStatus }) {
  const qc = useQueryClient();
  const [baseId, setBaseId] = useState<string | null>(null);
  const base = useQuery({
    queryKey: ['base-backup', baseId],
    queryFn: () => api.getBaseBackup(baseId!),
    enabled: baseId !== null,
    refetchInterval: (q) => (q.state.data && q.state.data.status !== 'running' ? false : 1000),
  });
  const take = useMutation({
    mutationFn: () => api.startBaseBackup(db.id),
    onSuccess: ({ id }) => setBaseId(id),
  });
  const disable = useMutation({
    mutationFn: () => api.disableArchiving(db.id),
    onSuccess: (a) => {
      qc.setQueryData(['archiving', db.id], a);
      void qc.invalidateQueries({ queryKey: ['archiving'] });
    },
  });
  const running = take.isPending || base.data?.status === 'running' || (baseId !== null && !base.data);
  const shared = archive.databases.length > 1;
  return (
    <>
      <p data-testid="archiving-state">
        <StatusBadge status="running" /> WAL archiving is on for <code>{archive.server}</code> (slot{' '}
        <code>{archive.slot}</code>, PostgreSQL {archive.server_major}): {archive.segments} segment
        {archive.segments === 1 ? '' : 's'} archived{archive.newest_segment ? `, newest ${archive.newest_segment}` : ''}.
      </p>
      <p className="muted">
        Base backups: {archive.base_backup_schedule ? <code>{archive.base_backup_schedule}</code> : 'on demand only'}
        {archive.base_backup_schedule ? ' (UTC)' : ''}. Retention:{' '}
        {archive.keep_base_backups || archive.keep_days
          ? [
              archive.keep_base_backups ? `the newest ${archive.keep_base_backups} base backups` : null,
              archive.keep_days ? `every second of the last ${archive.keep_days} days` : null,
            ]
              .filter(Boolean)
              .join(' and ')
          : 'everything is kept'}
        .{shared ? ` Shared by ${archive.databases.length} databases of this server.` : ''}
      </p>
      <div className="actions">
        <button type="button" className="primary" onClick={() => take.mutate()} disabled={running}>
          {running ? 'Taking a base backup…' : 'Take base backup now'}
        </button>
        <button type="button" onClick={() => disable.mutate()} disabled={disable.isPending}>
          Disable archiving
        </button>
      </div>
      {base.data && base.data.status !== 'running' ? (
        <p data-testid="base-backup-result">
          <StatusBadge status={base.data.status} />{' '}
          {base.data.status === 'completed'
            ? `Base backup completed (${base.data.start_lsn} to ${base.data.stop_lsn}).`
            : `Base backup ${base.data.status}${base.data.error ? `: ${base.data.error}` : ''}.`}
        </p>
      ) : null}
      {take.error ? <ErrorMessage error={take.error} /> : null}
      {disable.error ? <ErrorMessage error={disable.error} /> : null}
    </>
  );
}

function ArchivingOff({ db, archive }: { db: Database; archive: ArchiveStatus }) {
  const qc = useQueryClient();
  const id = useId();
  const [schedule, setSchedule] = useState(archive.base_backup_schedule ?? '');
  const [keep, setKeep] = useState(archive.keep_base_backups ? String(archive.keep_base_backups) : '');
  const enable = useMutation({
    mutationFn: () =>
      api.enableArchiving(db.id, {
        ...(schedule.trim() ? { base_backup_schedule: schedule.trim() } : {}),
        ...(keep.trim() ? { keep_base_backups: Number(keep) } : {}),
      }),
    onSuccess: (a) => {
      qc.setQueryData(['archiving', db.id], a);
      void qc.invalidateQueries({ queryKey: ['archiving'] });
      void qc.invalidateQueries({ queryKey: ['recovery-window', db.id] });
    },
  });
  const badKeep = keep.trim() !== '' && !/^[1-9]\d{0,4}$/.test(keep.trim());
  return (
    <>
      <p data-testid="archiving-state">
        WAL archiving is off{archive.server ? ` (it was on for ${archive.server}; archived WAL and base backups stay)` : ''}.
        With it on, {db.name} can be restored as it was at any second after a base backup.
      </p>
      {db.status === 'active' ? (
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (!badKeep) enable.mutate();
          }}
        >
          <div className="field">
            <label htmlFor={`${id}-cron`}>Base-backup schedule (cron, UTC; optional)</label>
            <input id={`${id}-cron`} value={schedule} onChange={(e) => setSchedule(e.target.value)} placeholder="0 3 * * *" />
          </div>
          <div className="field">
            <label htmlFor={`${id}-keep`}>Keep base backups (optional)</label>
            <input
              id={`${id}-keep`}
              inputMode="numeric"
              value={keep}
              onChange={(e) => setKeep(e.target.value)}
              aria-invalid={badKeep}
            />
          </div>
          <div className="actions">
            <button type="submit" className="primary" disabled={enable.isPending || badKeep}>
              {enable.isPending ? 'Enabling…' : 'Enable WAL archiving'}
            </button>
          </div>
        </form>
      ) : null}
      {enable.error ? <ErrorMessage error={enable.error} /> : null}
    </>
  );
}
