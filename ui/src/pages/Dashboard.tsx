import { useQuery } from '@tanstack/react-query';
import { api, type Database } from '../api';
import { ErrorMessage } from '../components/ErrorMessage';
import { StatusBadge } from '../components/StatusBadge';
import { Time } from '../components/Time';
import { engineLabel, formatAge, formatBytes } from '../format';
import { healthOf, healthRank } from '../health';
import { Link } from '../router';
import { NextRun } from '../components/SchedulePanels';
import { openAlertsByDatabase, useOpenAlerts } from '../alerts';
import { LeftoversNotice } from '../components/LeftoversNotice';
import { useAccess } from '../access';

export function Dashboard() {
  const dbs = useQuery({ queryKey: ['databases'], queryFn: () => api.listDatabases(), refetchInterval: 5_000 });
  const noAdd = useAccess().deny('add-database');

  return (
    <section className="page">
      <div className="page-head">
        <h1>Databases</h1>
        {noAdd ? null : (
          <Link to="/databases/new" className="button primary">
            Add database
          </Link>
        )}
      </div>
      {dbs.error ? <ErrorMessage error={dbs.error} /> : null}
      <LeftoversNotice />
      {dbs.isPending ? <p className="placeholder">Loading databases…</p> : null}
      {dbs.data && dbs.data.length === 0 ? (
        <div className="empty card">
          <p>
            {noAdd ? (
              'No databases you may see yet.'
            ) : (
              <>
                No databases yet — <Link to="/databases/new">add one</Link>.
              </>
            )}
          </p>
        </div>
      ) : null}
      {dbs.data && dbs.data.length > 0 ? (
        <>
          <Totals dbs={dbs.data} />
          <DatabaseTable dbs={dbs.data} />
        </>
      ) : null}
    </section>
  );
}

function Totals({ dbs }: { dbs: Database[] }) {
  const failing = dbs.filter((d) => healthOf(d) === 'failed' || healthOf(d) === 'abandoned').length;
  const never = dbs.filter((d) => healthOf(d) === 'never').length;
  const running = dbs.filter((d) => healthOf(d) === 'running').length;
  const stored = dbs.reduce((n, d) => n + (d.last_backup?.bytes ?? 0), 0);
  const versions = dbs.reduce((n, d) => n + d.backups_completed, 0);
  return (
    <dl className="totals" aria-label="Totals">
      <div>
        <dt>Databases</dt>
        <dd>{dbs.length}</dd>
      </div>
      <div className={failing > 0 ? 'total-bad' : undefined}>
        <dt>Failing</dt>
        <dd>{failing}</dd>
      </div>
      <div>
        <dt>Never backed up</dt>
        <dd>{never}</dd>
      </div>
      <div>
        <dt>Running now</dt>
        <dd>{running}</dd>
      </div>
      <div>
        <dt>Completed versions</dt>
        <dd>{versions}</dd>
      </div>
      <div>
        <dt>Size of last backups</dt>
        <dd>{formatBytes(stored)}</dd>
      </div>
    </dl>
  );
}

function DatabaseTable({ dbs }: { dbs: Database[] }) {
  const alerts = useOpenAlerts();
  const openByDb = openAlertsByDatabase(alerts.data);
  const sorted = [...dbs].sort(
    (a, b) => healthRank(healthOf(a)) - healthRank(healthOf(b)) || a.name.localeCompare(b.name),
  );
  return (
    <table className="table responsive db-table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Engine</th>
          <th scope="col">Last backup</th>
          <th scope="col">Age</th>
          <th scope="col" className="num">
            Size
          </th>
          <th scope="col" className="num">
            Versions
          </th>
          <th scope="col">Next run</th>
        </tr>
      </thead>
      <tbody>
        {sorted.map((d) => {
          const h = healthOf(d);
          const open = openByDb.get(d.id) ?? 0;
          return (
            <tr key={d.id} className={`health-${h}${open ? ' has-alert' : ''}`} data-testid={`db-row-${d.name}`}>
              <th scope="row" data-label="Name">
                <Link to={`/databases/${d.id}`}>{d.name}</Link>
                {open > 0 ? (
                  <Link to="/alerts" className="alert-marker" data-testid="alert-marker">
                    <span className="dot" aria-hidden="true" />
                    {open === 1 ? '1 open alert' : `${open} open alerts`}
                  </Link>
                ) : null}
              </th>
              <td data-label="Engine">{engineLabel(d.engine)}</td>
              <td data-label="Last backup">
                <StatusBadge status={h} />
              </td>
              <td data-label="Age">
                {d.last_backup ? (
                  <Time iso={d.last_backup.finished_at ?? d.last_backup.started_at} relative />
                ) : (
                  <span className="muted">—</span>
                )}
                {h === 'failed' && d.last_successful_backup_at ? (
                  <span className="sub">last good {formatAge(d.last_successful_backup_at)}</span>
                ) : null}
              </td>
              <td data-label="Size" className="num">
                {formatBytes(d.last_backup?.bytes)}
              </td>
              <td data-label="Versions" className="num">
                {d.backups_completed}
                {d.backups_failed > 0 ? <span className="sub bad">{d.backups_failed} failed</span> : null}
              </td>
              <td data-label="Next run" data-testid="next-run">
                <NextRun db={d} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
