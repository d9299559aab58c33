import type { ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api';
import { ErrorMessage } from '../components/ErrorMessage';
import { StageErrorView } from '../components/StageErrorView';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import { PinToggle } from '../components/PinToggle';
import { DownloadButton } from '../components/DownloadButton';
import { CancelButton } from '../components/CancelButton';
import { BackupWarnings, CopiesTable, DegradedNote } from '../components/BackupNotes';
import { VerifyPanel } from '../components/VerifyPanel';
import { engineLabel, formatBytes, formatDuration, formatTime, toolLabel } from '../format';
import { useBackup } from '../polling';
import { Link } from '../router';

/** Everything about one backup version. */
export function BackupPage({ id }: { id: string }) {
  const b = useBackup(id);
  const restores = useQuery({
    queryKey: ['restores', b.data?.database_id],
    queryFn: () => api.listRestores(b.data!.database_id),
    enabled: !!b.data,
  });
  if (b.error) return <ErrorMessage error={b.error} />;
  if (!b.data) return <p className="placeholder">Loading…</p>;
  const x = b.data;
  const fromThis = (restores.data ?? []).filter((r) => r.backup_id === x.id);
  return (
    <section className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/">Databases</Link> / <Link to={`/databases/${x.database_id}`}>{x.database_name}</Link> / version of {formatTime(x.started_at)}
      </nav>
      <div className="page-head">
        <h1>
          Backup of {x.database_name} <StatusBadge status={x.status} />
        </h1>
        {x.status === 'running' && (
          <div className="head-actions">
            <CancelButton kind="backup" id={x.id} requestedBy={x.cancel_requested_by} />
          </div>
        )}
        {(x.status === 'completed' || x.pinned) && (
          <div className="head-actions">
            <PinToggle backup={x} />
            {x.status === 'completed' ? <DownloadButton backup={x} /> : null}
          </div>
        )}
      </div>
      {x.status === 'pruned' ? (
        <p className="alert alert-warn" data-testid="prune-note">
          Pruned <Time iso={x.pruned_at} />
          {x.prune_reason ? `: ${x.prune_reason}` : ''}.{' '}
          {x.artifact_deleted ? 'Its files are deleted; it can no longer be restored.' : 'Its files are being deleted.'}
        </p>
      ) : null}
      {x.deletion_error ? (
        <div className="alert alert-error" data-testid="deletion-error">
          <strong>Its files could not be deleted yet</strong>
          <p className="break-text">{x.deletion_error}</p>
        </div>
      ) : null}
      <DegradedNote backup={x} />
      <BackupWarnings warnings={x.warnings} />
      <dl className="facts card">
        <Fact label="Started"><Time iso={x.started_at} /></Fact>
        <Fact label="Finished"><Time iso={x.finished_at} /></Fact>
        <Fact label="Duration">{formatDuration(x.duration_ms)}</Fact>
        <Fact label="Trigger">{x.trigger === 'scheduled' ? 'scheduled' : `${x.trigger} by ${x.actor}`}</Fact>
        {x.slot ? <Fact label="Scheduled slot"><Time iso={x.slot} /></Fact> : null}
        <Fact label="Pinned">{x.pinned ? 'yes — never pruned' : 'no'}</Fact>
        <Fact label="Engine">{engineLabel(x.engine)}</Fact>
        <Fact label="Stored (compressed)">{formatBytes(x.bytes)}</Fact>
        <Fact label="Raw dump">{formatBytes(x.raw_bytes)}</Fact>
        <Fact label="Compression">{x.compression}</Fact>
        <Fact label="Encrypted">{x.encrypted === undefined ? '—' : x.encrypted ? 'yes' : 'no'}</Fact>
        <Fact label="SHA-256" wide><code className="break">{x.sha256 ?? '—'}</code></Fact>
        <Fact label="Storage" wide><code className="break">{[x.storage, x.storage_key].filter(Boolean).join(' : ') || '—'}</code></Fact>
        <Fact label="Tool">{toolLabel(x.tool, x.tool_version)}</Fact>
        <Fact label="Server version">{x.server_version ?? '—'}</Fact>
        <Fact label="Node">{x.node ?? '—'}</Fact>
        <Fact label="Id" wide><code className="break">{x.id}</code></Fact>
      </dl>
      {x.error && <StageErrorView error={x.error} />}
      {x.manual_restore_command ? (
        <>
          <h2>Restore by hand</h2>
          <p className="muted">
            Without Backline: download this version, then (the checksum first; <code>$DB</code> is the new database
            {x.encrypted ? <>, <code>$AGE_KEY</code> your age key file</> : null}):
          </p>
          <pre className="manual-command" data-testid="manual-restore-command" tabIndex={0}>
            {x.manual_restore_command}
          </pre>
        </>
      ) : null}
      {x.copies && x.copies.length > 0 ? (
        <>
          <h2>Copies</h2>
          <CopiesTable copies={x.copies} />
        </>
      ) : null}
      <VerifyPanel backup={x} />
      <h2>Restores of this version</h2>
      {fromThis.length === 0 ? (
        <p className="muted">Never restored.</p>
      ) : (
        <ul className="plain-list">
          {fromThis.map((r) => (
            <li key={r.id}>
              <Link to={`/restores/${r.id}`}><Time iso={r.started_at} /></Link> into {r.target_database_name}{' '}
              <StatusBadge status={r.status} />
            </li>
          ))}
        </ul>
      )}
      <p>
        <Link to={`/timeline?database_id=${x.database_id}`}>See this database on the timeline</Link>
      </p>
    </section>
  );
}

export function Fact({ label, wide, children }: { label: string; wide?: boolean; children: ReactNode }) {
  return (
    <div className={wide ? 'wide' : undefined}>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}
