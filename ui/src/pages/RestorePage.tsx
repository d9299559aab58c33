import { ErrorMessage } from '../components/ErrorMessage';
import { StageErrorView } from '../components/StageErrorView';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import { Elapsed } from '../components/Elapsed';
import { DatabaseLink, VersionLink } from '../components/Refs';
import { BackupWarnings } from '../components/BackupNotes';
import { engineLabel, formatBytes, formatDuration, formatTime, toolLabel } from '../format';
import { useRestore } from '../polling';
import { Link } from '../router';
import { Fact } from './BackupPage';
import { CancelButton } from '../components/CancelButton';
import { ProgressMeter } from '../components/ProgressMeter';

/** One restore: which version (database and time), where into, how it went. Polls while running. */
export function RestorePage({ id }: { id: string }) {
  const r = useRestore(id);
  if (r.error) return <ErrorMessage error={r.error} />;
  if (!r.data) return <p className="placeholder">Loading…</p>;
  const x = r.data;
  const itself = x.source_database_id === x.target_database_id;
  return (
    <section className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/">Databases</Link> / <Link to={`/databases/${x.target_database_id}`}>{x.target_database_name}</Link> / restore of {formatTime(x.started_at)}
      </nav>
      <div className="page-head">
        <h1>
          Restore into {x.target_database_name} <StatusBadge status={x.status} />
        </h1>
        {x.status === 'running' && !x.target_time && !x.target_lsn ? (
          <div className="head-actions">
            <CancelButton kind="restore" id={x.id} requestedBy={x.cancel_requested_by} />
          </div>
        ) : null}
      </div>
      {x.status === 'cancelled' ? (
        <p className="alert alert-info" data-testid="cancelled-note">
          Cancelled{x.cancel_requested_by ? ` by ${x.cancel_requested_by}` : ''}: {x.target_database_name} is exactly as it was before.
        </p>
      ) : null}
      {x.status === 'running' ? (
        <div className="progress card" data-testid="restore-progress">
          <ProgressMeter progress={x.progress} />
        </div>
      ) : null}
      <BackupWarnings warnings={x.warnings} what="this restore could not bring everything back exactly" />
      <dl className="facts card" data-testid="restore-facts" data-status={x.status}>
        <Fact label="Version restored">
          <VersionLink id={x.backup_id} />
        </Fact>
        <Fact label="From database">
          <DatabaseLink id={x.source_database_id} name={itself ? x.target_database_name : undefined} />
          {itself ? <span className="sub">the same database it was restored into</span> : null}
        </Fact>
        {x.cluster_path ? (
          <Fact label="Whole cluster written to">
            <code className="break">{x.cluster_path}</code>
          </Fact>
        ) : (
          <Fact label="Into database">
            <Link to={`/databases/${x.target_database_id}`} title={`Database id ${x.target_database_id}`}>
              {x.target_database_name}
            </Link>
          </Fact>
        )}
        {x.target_time || x.target_lsn ? (
          <Fact label="Point in time">{x.target_time ? <Time iso={x.target_time} /> : <code>{x.target_lsn}</code>}</Fact>
        ) : null}
        {x.status === 'running' && x.step ? <Fact label="Step">{x.step}</Fact> : null}
        <Fact label="Started"><Time iso={x.started_at} /></Fact>
        <Fact label="Finished"><Time iso={x.finished_at} /></Fact>
        <Fact label="Duration">{x.status === 'running' ? <Elapsed since={x.started_at} /> : formatDuration(x.duration_ms)}</Fact>
        <Fact label="By">{x.actor}</Fact>
        <Fact label="Engine">{engineLabel(x.engine)}</Fact>
        {x.tool ? <Fact label="Tool">{toolLabel(x.tool, x.tool_version ?? null)}</Fact> : null}
        {x.server_version ? <Fact label="Server version">{x.server_version}</Fact> : null}
        {typeof x.local_copy_bytes === 'number' ? <Fact label="Local copy">{formatBytes(x.local_copy_bytes)}</Fact> : null}
        <Fact label="Previous contents kept as">{x.previous_kept_as ? <code>{x.previous_kept_as}</code> : '—'}</Fact>
        <Fact label="Restore id" wide><code className="break">{x.id}</code></Fact>
      </dl>
      {x.error && <StageErrorView error={x.error} />}
      <p>
        <Link to={`/timeline?database_id=${x.target_database_id}`}>See {x.target_database_name} on the timeline</Link>
      </p>
    </section>
  );
}
