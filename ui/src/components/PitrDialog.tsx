import { useEffect, useId, useRef, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Database, type RecoveryInterval } from '../api';
import { insideWindow, isoToLocalInput, latestRestorable, localInputToIso } from '../pitr';
import { useRestore } from '../polling';
import { ConfirmByName } from './ConfirmByName';
import { ErrorMessage } from './ErrorMessage';
import { useDialogKeyboard } from './dialogKeyboard';
import { RestoreProgress } from './RestoreDialog';
import { Time } from './Time';

/**
 * Restores `source` as it was at a chosen second of its recoverable window into a registered
 * PostgreSQL database (its own or another), which is replaced once its name is typed.
 */
export function PitrDialog({
  source,
  intervals,
  onClose,
}: {
  source: Database;
  intervals: RecoveryInterval[];
  onClose: () => void;
}) {
  const qc = useQueryClient();
  const titleId = useId();
  const dialogRef = useRef<HTMLDivElement>(null);
  const all = useQuery({ queryKey: ['databases'], queryFn: () => api.listDatabases() });
  const targets = (all.data ?? []).filter((d) => d.engine === 'postgres' && d.status === 'active');
  if (!targets.some((d) => d.id === source.id)) targets.unshift(source);
  const [targetId, setTargetId] = useState(source.id);
  const target = targets.find((d) => d.id === targetId) ?? source;
  const latest = latestRestorable(intervals);
  const [when, setWhen] = useState(latest ? isoToLocalInput(latest) : '');
  const iso = localInputToIso(when);
  const inside = iso !== null && insideWindow(iso, intervals);
  const [wholeCluster, setWholeCluster] = useState(false);
  const [clusterPath, setClusterPath] = useState('');
  const pathOk = clusterPath.trim().startsWith('/') && !clusterPath.split('/').includes('..');
  const [restoreId, setRestoreId] = useState<string | null>(null);
  const restore = useRestore(restoreId);
  const start = useMutation({
    mutationFn: () =>
      api.startPitr(
        source.id,
        iso!,
        wholeCluster ? { clusterPath: clusterPath.trim() } : { targetDatabaseId: target.id === source.id ? undefined : target.id },
      ),
    onSuccess: ({ id }) => setRestoreId(id),
  });
  const running = start.isPending || (restoreId !== null && (!restore.data || restore.data.status === 'running'));
  const finished = restore.data && restore.data.status !== 'running';
  useEffect(() => {
    if (finished) {
      void qc.invalidateQueries({ queryKey: ['restores'] });
      void qc.invalidateQueries({ queryKey: ['database'] });
    }
  }, [finished, qc]);

  const onKeyDown = useDialogKeyboard(dialogRef, running, onClose);

  return (
    <div className="backdrop" onMouseDown={(e) => e.target === e.currentTarget && !running && onClose()}>
      <div className="dialog card" role="dialog" aria-modal="true" aria-labelledby={titleId} ref={dialogRef} onKeyDown={onKeyDown}>
        <h2 id={titleId}>Restore to a point in time</h2>
        <p className="muted">{source.name} as it was at one second of its recoverable window.</p>
        {restoreId === null ? (
          <>
            <div className="field">
              <label htmlFor={`${titleId}-when`}>Restore to (your local time)</label>
              <input
                id={`${titleId}-when`}
                type="datetime-local"
                step={1}
                value={when}
                min={intervals[0] ? isoToLocalInput(intervals[0].from) : undefined}
                max={latest ? isoToLocalInput(latest) : undefined}
                onChange={(e) => setWhen(e.target.value)}
                aria-invalid={!inside}
                aria-describedby={`${titleId}-when-hint`}
                disabled={start.isPending}
              />
              <p className="hint" id={`${titleId}-when-hint`} data-testid="pitr-when-hint">
                {inside ? (
                  <>
                    {source.name} as of <Time iso={iso!} />.
                  </>
                ) : (
                  'Choose a second inside the recoverable window:'
                )}
              </p>
              {!inside ? (
                <ul className="window">
                  {intervals.map((i) => (
                    <li key={i.from}>
                      <Time iso={i.from} /> — <Time iso={i.to} />
                    </li>
                  ))}
                </ul>
              ) : null}
            </div>
            <div className="field">
              <label className="checkbox">
                <input
                  type="checkbox"
                  checked={wholeCluster}
                  onChange={(e) => setWholeCluster(e.target.checked)}
                  disabled={start.isPending}
                  data-testid="whole-cluster"
                />{' '}
                The whole cluster, as a data directory on the Backline host (admins)
              </label>
            </div>
            {wholeCluster ? (
              <>
                <div className="field">
                  <label htmlFor={`${titleId}-path`}>New, empty directory</label>
                  <input
                    id={`${titleId}-path`}
                    value={clusterPath}
                    onChange={(e) => setClusterPath(e.target.value)}
                    placeholder="/srv/restored/cluster"
                    aria-invalid={clusterPath.trim() !== '' && !pathOk}
                    disabled={start.isPending}
                    autoComplete="off"
                    spellCheck={false}
                  />
                  <p className="hint">
                    An absolute path that does not exist yet (its parent does) or is empty. Every database of the server is
                    in it, as it was then; no registered database changes.
                  </p>
                </div>
                <div className="actions">
                  <button
                    type="button"
                    className="primary"
                    disabled={start.isPending || !inside || !pathOk}
                    onClick={() => start.mutate()}
                  >
                    Write the cluster
                  </button>
                  <button type="button" onClick={onClose}>
                    Cancel
                  </button>
                </div>
              </>
            ) : (
              <>
            <div className="field">
              <label htmlFor={`${titleId}-target`}>Restore into</label>
              <select
                id={`${titleId}-target`}
                value={target.id}
                onChange={(e) => setTargetId(e.target.value)}
                disabled={start.isPending}
              >
                {targets.map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name}
                    {d.id === source.id ? ' (its own database)' : ''}
                  </option>
                ))}
              </select>
              <p className="hint">Registered PostgreSQL databases.</p>
            </div>
            <p className="alert alert-warn">
              This replaces the current contents of <strong>{target.name}</strong> (
              <code className="break">{target.connection}</code>) with {source.name} as it was then.
            </p>
            <ConfirmByName
              key={target.id}
              name={target.name}
              action="Restore"
              prompt="To restore over it, type the target database's name"
              busy={start.isPending}
              disabled={!inside}
              onConfirm={() => start.mutate()}
              onCancel={onClose}
            />
              </>
            )}
            {start.error ? <ErrorMessage error={start.error} /> : null}
          </>
        ) : (
          <>
            {restore.data?.step && restore.data.status === 'running' ? (
              <p data-testid="pitr-step">Step: {restore.data.step}</p>
            ) : null}
            <RestoreProgress restoreId={restoreId} data={restore.data} error={restore.error} onClose={onClose} running={running} />
          </>
        )}
      </div>
    </div>
  );
}
