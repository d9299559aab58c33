import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Database, type PrunePlan } from '../api';
import { formatBytes, plural } from '../format';
import { useNow } from '../hooks';
import { Link } from '../router';
import { CATCH_UP_LABELS, describeRetention, formatUntil, formatZoned, naturalSchedule, nothingToPrune, retentionIsEmpty } from '../schedule';
import { ErrorMessage } from './ErrorMessage';
import { Time } from './Time';
import { useAccess } from '../access';

/** The next scheduled run as "in 3 h" (local time on hover), "Paused" or "Manual only". */
export function NextRun({ db }: { db: Database }) {
  const now = useNow(30_000);
  if (!db.schedule) return <span className="muted">Manual only</span>;
  if (db.paused) return <span className="badge badge-paused" data-status="paused">Paused</span>;
  const next = db.schedule.next_run_at;
  if (!next) return <span className="muted">—</span>;
  return (
    <time dateTime={next} title={db.schedule.next_run_at_local ? formatZoned(db.schedule.next_run_at_local) : undefined}>
      {formatUntil(next, now)}
    </time>
  );
}

/** Schedule facts on the database page; pausing is in the page head. */
export function ScheduleSummary({ db }: { db: Database }) {
  const noManage = useAccess().deny('manage');
  const s = db.schedule;
  return (
    <section className="card panel" aria-labelledby="schedule-h" data-testid="schedule-summary">
      <div className="panel-head">
        <h2 id="schedule-h">Schedule</h2>
        {s ? (
          db.paused ? (
            <span className="badge badge-paused" data-status="paused">Paused</span>
          ) : (
            <span className="badge badge-scheduled">Active</span>
          )
        ) : null}
      </div>
      {!s ? (
        <p className="muted">
          No schedule: backed up only by hand.{' '}
          {db.status === 'active' && !noManage && <Link to={`/databases/${db.id}/edit`}>Add a schedule</Link>}
        </p>
      ) : (
        <>
          <p className="schedule-description">{naturalSchedule(s.description)}</p>
          <dl className="mini-facts">
            <div>
              <dt>Cron</dt>
              <dd>
                <code>{s.cron}</code>
              </dd>
            </div>
            <div>
              <dt>Time zone</dt>
              <dd>{s.timezone}</dd>
            </div>
            <div>
              <dt>Next run</dt>
              <dd data-testid="next-run-at">
                {db.paused ? (
                  <span className="muted">none while paused</span>
                ) : s.next_run_at ? (
                  <>
                    <Time iso={s.next_run_at} /> <span className="sub">({formatUntil(s.next_run_at)})</span>
                  </>
                ) : (
                  '—'
                )}
              </dd>
            </div>
            <div>
              <dt>Missed runs</dt>
              <dd>{CATCH_UP_LABELS[s.catch_up] ?? s.catch_up}</dd>
            </div>
            {db.last_claimed_slot ? (
              <div>
                <dt>Last scheduled slot</dt>
                <dd>
                  <Time iso={db.last_claimed_slot} />
                </dd>
              </div>
            ) : null}
          </dl>
        </>
      )}
    </section>
  );
}

/** The retention policy in words, what it would prune now (and why), and "Apply retention now". */
export function RetentionPanel({ db }: { db: Database }) {
  const noManage = useAccess().deny('manage');
  const qc = useQueryClient();
  const [open, setOpen] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [applied, setApplied] = useState<PrunePlan | null>(null);
  const preview = useQuery({
    queryKey: ['retention-preview', db.id],
    queryFn: () => api.retentionPreview(db.id),
    enabled: open,
    staleTime: 0,
  });
  const apply = useMutation({
    mutationFn: () => api.applyRetention(db.id),
    onSuccess: (plan) => {
      setApplied(plan);
      setConfirming(false);
      void qc.invalidateQueries({ queryKey: ['backups', db.id] });
      void qc.invalidateQueries({ queryKey: ['database'] });
      void qc.invalidateQueries({ queryKey: ['databases'] });
      void qc.invalidateQueries({ queryKey: ['retention-preview', db.id] });
    },
  });
  const empty = retentionIsEmpty(db.retention);
  const plan = preview.data;
  const n = plan?.prune.length ?? 0;
  const removed = db.status !== 'active';

  return (
    <section className="card panel" aria-labelledby="retention-h" data-testid="retention-panel">
      <div className="panel-head">
        <h2 id="retention-h">Retention</h2>
        {!removed && (
          <button
            type="button"
            aria-expanded={open}
            aria-controls="prune-preview"
            onClick={() => {
              setOpen((o) => !o);
              setApplied(null);
              setConfirming(false);
              if (!open) void qc.invalidateQueries({ queryKey: ['retention-preview', db.id] });
            }}
          >
            {open ? 'Hide pruning preview' : 'Preview pruning'}
          </button>
        )}
      </div>
      <p data-testid="retention-policy">{describeRetention(db.retention)}</p>
      {open && (
        <div id="prune-preview" className="prune-preview" data-testid="prune-preview" aria-live="polite">
          {preview.error ? <ErrorMessage error={preview.error} /> : null}
          {applied ? (
            <p className="ok" role="status">
              Pruned {plural(applied.prune.length, 'version')}; {applied.kept} kept.
            </p>
          ) : null}
          {!plan && preview.isFetching ? <p className="muted">Working out what the policy would prune…</p> : null}
          {plan ? (
            <>
              <p>
                {empty
                  ? 'No retention rules: nothing is pruned.'
                  : n === 0
                    ? nothingToPrune(plan.kept)
                    : `Would prune ${plural(n, 'version')} and keep ${plan.kept}:`}
              </p>
              {n > 0 && (
                <ul className="prune-list" aria-label="Versions that would be pruned">
                  {plan.prune.map((p) => (
                    <li key={p.id} data-testid="prune-item" data-backup-id={p.id}>
                      <Link to={`/backups/${p.id}`}>
                        <Time iso={p.finished_at} />
                      </Link>{' '}
                      <span className="muted">{formatBytes(p.bytes)}</span>
                      <span className="sub reason">{p.reason}</span>
                    </li>
                  ))}
                </ul>
              )}
              {n > 0 && !confirming && !noManage && (
                <button type="button" className="danger" onClick={() => setConfirming(true)}>
                  Apply retention now…
                </button>
              )}
              {n > 0 && confirming && (
                <div className="confirm-inline" role="group" aria-label="Confirm pruning">
                  <p>
                    <strong>Delete {plural(n, 'version')}?</strong> Their stored files are removed and they can no
                    longer be restored. The history stays on the timeline.
                  </p>
                  <div className="actions">
                    <button type="button" className="danger" onClick={() => apply.mutate()} disabled={apply.isPending} autoFocus>
                      {apply.isPending ? 'Pruning…' : `Prune ${plural(n, 'version')}`}
                    </button>
                    <button type="button" onClick={() => setConfirming(false)} disabled={apply.isPending}>
                      Cancel
                    </button>
                  </div>
                </div>
              )}
              {apply.error ? <ErrorMessage error={apply.error} /> : null}
            </>
          ) : null}
        </div>
      )}
    </section>
  );
}
