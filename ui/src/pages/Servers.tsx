import { useId, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Engine, type Server } from '../api';
import { engineLabel } from '../format';
import { ErrorMessage } from '../components/ErrorMessage';
import { DiscoveryDialog } from '../components/DiscoveryDialog';
import { Link } from '../router';
import { useAccess } from '../access';

/** Database servers: list what they hold, register many databases at once. */
export function Servers() {
  const servers = useQuery({ queryKey: ['servers'], queryFn: api.listServers });
  const [open, setOpen] = useState<Server | null>(null);
  const { deny } = useAccess();
  const noSee = deny('see-all');
  const noChange = deny('servers');
  if (noSee) {
    return (
      <section className="page">
        <h1>Servers</h1>
        <p className="alert alert-warn" role="status">
          {noSee}
        </p>
      </section>
    );
  }
  return (
    <section className="page">
      <div className="page-head">
        <h1>Servers</h1>
      </div>
      <p className="muted intro">
        A server is a connection without a database: Backline lists the databases on it (system databases left out) and
        registers the ones you choose, all with the same schedule and retention.
      </p>
      {servers.error ? <ErrorMessage error={servers.error} /> : null}
      {servers.isPending ? <p className="placeholder">Loading servers…</p> : null}
      {servers.data && servers.data.length === 0 ? <p className="empty card">No servers yet.</p> : null}
      {servers.data && servers.data.length > 0 ? (
        <ul className="channels" aria-label="Servers">
          {servers.data.map((s) => (
            <li key={s.id} className="card channel" data-testid="server" aria-labelledby={`server-${s.id}`}>
              <div className="channel-head">
                <h2 id={`server-${s.id}`} className="channel-name">
                  {s.name}
                </h2>
                <span className="muted">{engineLabel(s.engine)}</span>
                {s.auto_register ? (
                  <span className="badge badge-scheduled">
                    Registers new databases{s.auto_register.pattern ? ` matching ${s.auto_register.pattern}` : ''}
                  </span>
                ) : null}
              </div>
              <p>
                <code className="break">{s.connection}</code>
              </p>
              {s.databases.length > 0 ? (
                <p className="muted">
                  Registered from here:{' '}
                  {s.databases.map((d, i) => (
                    <span key={`${d.name}-${i}`}>
                      {i > 0 ? ', ' : ''}
                      {d.database_id ? <Link to={`/databases/${d.database_id}`}>{d.name}</Link> : d.name}
                    </span>
                  ))}
                </p>
              ) : null}
              {noChange ? null : (
                <div className="actions">
                  <button type="button" className="primary" onClick={() => setOpen(s)}>
                    Discover databases
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
      ) : null}
      {noChange ? (
        <p className="denied" data-testid="servers-denied">
          {noChange}
        </p>
      ) : (
        <ServerForm />
      )}
      {open ? <DiscoveryDialog server={open} onClose={() => setOpen(null)} /> : null}
    </section>
  );
}

function ServerForm() {
  const qc = useQueryClient();
  const id = useId();
  const [name, setName] = useState('');
  const [engine, setEngine] = useState<Engine>('postgres');
  const [connection, setConnection] = useState('');
  const [auto, setAuto] = useState(false);
  const [pattern, setPattern] = useState('');
  const add = useMutation({
    mutationFn: () =>
      api.createServer({
        name,
        engine,
        connection,
        ...(auto ? { auto_register: { ...(pattern ? { pattern } : {}), alert: true } } : {}),
      }),
    onSuccess: () => {
      setName('');
      setConnection('');
      void qc.invalidateQueries({ queryKey: ['servers'] });
    },
  });
  return (
    <form
      className="card form"
      aria-label="Add a server"
      onSubmit={(e) => {
        e.preventDefault();
        add.mutate();
      }}
    >
      <h2>Add a server</h2>
      <div className="field">
        <label htmlFor={`${id}-name`}>Name</label>
        <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} required />
      </div>
      <div className="field">
        <label htmlFor={`${id}-engine`}>Engine</label>
        <select id={`${id}-engine`} value={engine} onChange={(e) => setEngine(e.target.value as Engine)}>
          <option value="postgres">PostgreSQL</option>
          <option value="mysql">MySQL / MariaDB</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-conn`}>Connection</label>
        <input
          id={`${id}-conn`}
          value={connection}
          onChange={(e) => setConnection(e.target.value)}
          placeholder={engine === 'postgres' ? 'postgres://user:password@host:5432' : 'mysql://user:password@host:3306'}
          required
        />
        <p className="hint">No database in the path: every database the user can see is listed.</p>
      </div>
      <div className="field">
        <label className="checkbox">
          <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> Register new databases as
          they appear (with an alert)
        </label>
      </div>
      {auto ? (
        <div className="field">
          <label htmlFor={`${id}-pattern`}>Only names matching (optional)</label>
          <input id={`${id}-pattern`} value={pattern} onChange={(e) => setPattern(e.target.value)} placeholder="shop_*" />
        </div>
      ) : null}
      {add.error ? <ErrorMessage error={add.error} /> : null}
      <div className="actions">
        <button type="submit" className="primary" disabled={add.isPending}>
          Add server
        </button>
      </div>
    </form>
  );
}
