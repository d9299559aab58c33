import { ErrorMessage } from '../components/ErrorMessage';
import { StageErrorView } from '../components/StageErrorView';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import { Elapsed } from '../components/Elapsed';
import { engineLabel, formatDuration } from '../format';
import { useRestore } from '../polling';
import { Link } from '../router';
import { Fact } from './BackupPage';

/** One restore: where from, where into, how it went. Polls while running. */
export function RestorePage({ id }: { id: string }) {
  const r = useRestore(id);
  if (r.error) return <ErrorMessage error={r.error} />;
  if (!r.data) return <p className="placeholder">Loading…</p>;
  const x = r.data;
  return (
    <section className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/">Databases</Link> / <Link to={`/databases/${x.target_database_id}`}>{x.target_database_name}</Link> / restore
      </nav>
      <h1>
        Restore into {x.target_database_name} <StatusBadge status={x.status} />
      </h1>
      <dl className="facts card" data-testid="restore-facts" data-status={x.status}>
        <Fact label="Started"><Time iso={x.started_at} /></Fact>
        <Fact label="Finished"><Time iso={x.finished_at} /></Fact>
        <Fact label="Duration">{x.status === 'running' ? <Elapsed since={x.started_at} /> : formatDuration(x.duration_ms)}</Fact>
        <Fact label="By">{x.actor}</Fact>
        <Fact label="Engine">{engineLabel(x.engine)}</Fact>
        <Fact label="Version restored"><Link to={`/backups/${x.backup_id}`}>backup {x.backup_id.slice(0, 8)}…</Link></Fact>
        <Fact label="From database"><Link to={`/databases/${x.source_database_id}`}>{x.source_database_id === x.target_database_id ? 'itself' : 'source database'}</Link></Fact>
        <Fact label="Into database"><Link to={`/databases/${x.target_database_id}`}>{x.target_database_name}</Link></Fact>
        <Fact label="Previous contents kept as">{x.previous_kept_as ? <code>{x.previous_kept_as}</code> : '—'}</Fact>
        <Fact label="Id" wide><code className="break">{x.id}</code></Fact>
      </dl>
      {x.error && <StageErrorView error={x.error} />}
      <p>
        <Link to={`/timeline?database_id=${x.target_database_id}`}>See the target database on the timeline</Link>
      </p>
    </section>
  );
}
