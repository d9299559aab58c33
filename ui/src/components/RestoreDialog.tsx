import { useEffect, useId, useRef, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Backup, type Database } from '../api';
import { engineLabel, formatBytes, formatDuration, plural } from '../format';
import { useRestore } from '../polling';
import { Link } from '../router';
import { ConfirmByName } from './ConfirmByName';
import { ErrorMessage } from './ErrorMessage';
import { Elapsed } from './Elapsed';
import { StageErrorView } from './StageErrorView';
import { StatusBadge } from './StatusBadge';
import { Time } from './Time';
import { TableTree } from './TableTree';
import { useAccess } from '../access';
import { useDialogKeyboard } from './dialogKeyboard';

/** The "Restore into" choice that creates a database instead of replacing one. */
const NEW = '__new__';
/** A name the API takes for a new database (DatabaseName). */
const NEW_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * Restores one version into its own database, another registered database of the same engine, or
 * a new database on the server of a registered one. Replacing a database needs its name typed to
 * confirm; a new one replaces nothing.
 */
export function RestoreDialog({ backup, source, onClose }: { backup: Backup; source: Database; onClose: () => void }) {
  const qc = useQueryClient();
  const titleId = useId();
  const dialogRef = useRef<HTMLDivElement>(null);
  const all = useQuery({ queryKey: ['databases'], queryFn: () => api.listDatabases() });
  const targets = (all.data ?? []).filter((d) => d.engine === source.engine && d.status === 'active');
  if (!targets.some((d) => d.id === source.id) && source.status === 'active') targets.unshift(source);
  const { deny } = useAccess();
  const [chosenId, setTargetId] = useState<string | null>(null);
  // By default its own database, unless this principal may not restore there (an operator and a
  // database that is no restore target): then the first it may.
  const targetId = chosenId ?? (deny('restore', source) ? targets.find((d) => !deny('restore', d))?.id : undefined) ?? source.id;
  const targetDenied = targetId === NEW ? deny('add-database') : deny('restore', targets.find((d) => d.id === targetId) ?? source);
  const target = targets.find((d) => d.id === targetId) ?? source;
  const creating = targetId === NEW;
  const [newName, setNewName] = useState('');
  const [serverOf, setServerOf] = useState(source.id);
  const [restoreId, setRestoreId] = useState<string | null>(null);
  const [noOwner, setNoOwner] = useState(false);
  const [partial, setPartial] = useState(false);
  const [tables, setTables] = useState<Set<string>>(new Set());
  const contents = useQuery({
    queryKey: ['contents', backup.id],
    queryFn: () => api.backupContents(backup.id),
    enabled: partial,
    staleTime: Infinity,
  });
  const [noDefiner, setNoDefiner] = useState(false);
  const restore = useRestore(restoreId);

  const start = useMutation({
    mutationFn: () =>
      api.startRestore(backup.id, creating || target.id === backup.database_id ? undefined : target.id, {
        noOwner: source.engine === 'postgres' && noOwner,
        ...(partial && !creating ? { tables: [...tables] } : {}),
        noDefiner: source.engine === 'mysql' && noDefiner,
        newDatabase: creating ? { name: newName.trim(), serverOf } : undefined,
      }),
    onSuccess: ({ id }) => setRestoreId(id),
  });

  const running = start.isPending || (restoreId !== null && (!restore.data || restore.data.status === 'running'));
  const finished = restore.data && restore.data.status !== 'running';

  useEffect(() => {
    if (finished) {
      void qc.invalidateQueries({ queryKey: ['restores'] });
      void qc.invalidateQueries({ queryKey: ['database'] });
      void qc.invalidateQueries({ queryKey: ['databases'] });
    }
  }, [finished, qc]);

  // Keyboard: focus in and back, Escape (not while a restore starts or runs), Tab cycling.
  const onKeyDown = useDialogKeyboard(dialogRef, running, onClose);

  return (
    <div className="backdrop" onMouseDown={(e) => e.target === e.currentTarget && !running && onClose()}>
      <div
        className="dialog card"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        ref={dialogRef}
        onKeyDown={onKeyDown}
      >
        <h2 id={titleId}>Restore version</h2>
        <p className="muted">
          {source.name}, <Time iso={backup.started_at} /> — {formatBytes(backup.bytes)} stored ({engineLabel(backup.engine)})
        </p>

        {restoreId === null ? (
          <>
            <div className="field">
              <label htmlFor={`${titleId}-target`}>Restore into</label>
              <select
                id={`${titleId}-target`}
                value={creating ? NEW : target.id}
                onChange={(e) => setTargetId(e.target.value)}
                disabled={start.isPending}
              >
                {targets.map((d) => (
                  <option key={d.id} value={d.id} disabled={!!deny('restore', d)}>
                    {d.name}
                    {d.id === source.id ? ' (its own database)' : ''}
                    {deny('restore', d) ? ' (not a restore target)' : ''}
                  </option>
                ))}
                {deny('add-database') ? null : <option value={NEW}>A new database…</option>}
              </select>
              <p className="hint">Registered {engineLabel(source.engine)} databases, or a new one on the server of one.</p>
            </div>
            {creating && (
              <NewDatabaseFields
                idPrefix={titleId}
                name={newName}
                onName={setNewName}
                serverOf={serverOf}
                onServerOf={setServerOf}
                servers={targets}
                disabled={start.isPending}
              />
            )}
            {backup.verified_ok === false && (
              <p className="alert alert-error" role="alert">
                <strong>The last verification of this version failed</strong>
                {backup.verification_detail ? `: ${backup.verification_detail}` : ''}. Restoring it may fail, or bring back
                damaged data.
              </p>
            )}
            {source.engine === 'postgres' && (
              <div className="field">
                <label className="checkbox">
                  <input
                    type="checkbox"
                    checked={noOwner}
                    onChange={(e) => setNoOwner(e.target.checked)}
                    disabled={start.isPending}
                  />{' '}
                  Skip ownership and grants
                </label>
                <p className="hint">For a server that does not have the roles the backup names.</p>
              </div>
            )}
            {source.engine === 'mysql' && (
              <div className="field">
                <label className="checkbox">
                  <input
                    type="checkbox"
                    checked={noDefiner}
                    onChange={(e) => setNoDefiner(e.target.checked)}
                    disabled={start.isPending}
                  />{' '}
                  Make the restoring user the definer
                </label>
                <p className="hint">
                  For a user without SUPER: views, routines, triggers and events are defined by the restoring user instead
                  of the accounts the backup names.
                </p>
              </div>
            )}
            {creating ? (
              <div className="actions">
                <button
                  type="button"
                  className="primary"
                  disabled={start.isPending || !NEW_NAME.test(newName.trim())}
                  onClick={() => start.mutate()}
                >
                  Restore into a new database
                </button>
                <button type="button" onClick={onClose}>
                  Cancel
                </button>
              </div>
            ) : (
              <>
            <div className="field">
              <label className="checkbox">
                <input
                  type="checkbox"
                  checked={partial}
                  onChange={(e) => setPartial(e.target.checked)}
                  disabled={start.isPending}
                  data-testid="partial-restore"
                />{' '}
                Only some tables
              </label>
            </div>
            {partial ? (
              <div className="field">
                {contents.isPending ? <p className="placeholder">Reading the version's tables…</p> : null}
                {contents.error ? <ErrorMessage error={contents.error} /> : null}
                {contents.data ? (
                  <TableTree contents={contents.data} chosen={tables} onChange={setTables} disabled={start.isPending} />
                ) : null}
              </div>
            ) : null}
            {partial ? (
              <p className="alert alert-warn">
                This replaces {tables.size === 0 ? 'the chosen tables' : <strong>{plural(tables.size, 'table')}</strong>} in{' '}
                <strong>{target.name}</strong> (<code className="break">{target.connection}</code>) with this version's;
                nothing else changes.
              </p>
            ) : (
              <p className="alert alert-warn">
                This replaces the current contents of <strong>{target.name}</strong> (
                <code className="break">{target.connection}</code>) with this version.
              </p>
            )}
            <ConfirmByName
              key={target.id}
              name={target.name}
              action="Restore"
              prompt="To restore over it, type the target database's name"
              busy={start.isPending}
              disabled={(partial && tables.size === 0) || !!targetDenied}
              onConfirm={() => start.mutate()}
              onCancel={onClose}
            />
              </>
            )}
            {targetDenied ? (
              <p className="denied" role="note">
                {targetDenied}
              </p>
            ) : null}
            {start.error ? <ErrorMessage error={start.error} /> : null}
          </>
        ) : (
          <RestoreProgress restoreId={restoreId} data={restore.data} error={restore.error} onClose={onClose} running={running} />
        )}
      </div>
    </div>
  );
}

/** Name and server of a database the restore creates. */
function NewDatabaseFields(props: {
  idPrefix: string;
  name: string;
  onName: (v: string) => void;
  serverOf: string;
  onServerOf: (v: string) => void;
  servers: Database[];
  disabled: boolean;
}) {
  const { idPrefix, name, serverOf, servers, disabled } = props;
  const bad = name.trim() !== '' && !NEW_NAME.test(name.trim());
  return (
    <>
      <div className="field">
        <label htmlFor={`${idPrefix}-new-name`}>New database name</label>
        <input
          id={`${idPrefix}-new-name`}
          value={name}
          onChange={(e) => props.onName(e.target.value)}
          disabled={disabled}
          aria-invalid={bad}
          aria-describedby={`${idPrefix}-new-name-hint`}
          autoComplete="off"
        />
        <p className="hint" id={`${idPrefix}-new-name-hint`}>
          {bad
            ? 'Letters, digits, _ . - (starting with a letter or digit), at most 63.'
            : "Created with the version's encoding and locale, and registered under this name."}
        </p>
      </div>
      <div className="field">
        <label htmlFor={`${idPrefix}-server`}>On the server of</label>
        <select id={`${idPrefix}-server`} value={serverOf} onChange={(e) => props.onServerOf(e.target.value)} disabled={disabled}>
          {servers.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name} ({d.connection})
            </option>
          ))}
        </select>
        <p className="hint">The new database uses this database's server and credentials.</p>
      </div>
    </>
  );
}

export function RestoreProgress({
  restoreId,
  data,
  error,
  running,
  onClose,
}: {
  restoreId: string;
  data: ReturnType<typeof useRestore>['data'];
  error: unknown;
  running: boolean;
  onClose: () => void;
}) {
  return (
    <div className="restore-progress" aria-live="polite" data-testid="restore-progress" data-status={data?.status ?? 'starting'}>
      {error ? <ErrorMessage error={error} /> : null}
      {!data || data.status === 'running' ? (
        <>
          <p>
            <StatusBadge status="running" /> Restoring into <strong>{data?.target_database_name ?? '…'}</strong>
            {data ? (
              <>
                {' '}
                — <Elapsed since={data.started_at} />
              </>
            ) : null}
          </p>
          <div className="bar indeterminate" aria-hidden="true">
            <span />
          </div>
        </>
      ) : (
        <>
          <p>
            <StatusBadge status={data.status} />{' '}
            {data.status === 'completed'
              ? `Restored into ${data.target_database_name} in ${formatDuration(data.duration_ms)}.`
              : `Restore into ${data.target_database_name} failed.`}
          </p>
          {data.previous_kept_as && (
            <p>
              The previous contents were kept as <code>{data.previous_kept_as}</code>.
            </p>
          )}
          {data.error && <StageErrorView error={data.error} />}
        </>
      )}
      <div className="actions">
        <Link to={`/restores/${restoreId}`} className="button">
          Restore details
        </Link>
        <button type="button" onClick={onClose} className={running ? undefined : 'primary'}>
          {running ? 'Close (the restore keeps running)' : 'Close'}
        </button>
      </div>
    </div>
  );
}
