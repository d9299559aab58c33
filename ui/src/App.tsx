import { useEffect, useState, type ReactNode } from 'react';
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { api, onUnauthorized, type SessionView } from './api';
import { clearToken, getToken, setCsrf, setToken } from './auth';
import { useAccess, type Action } from './access';
import { makeQueryClient } from './queryClient';
import { Link, match, useLocation } from './router';
import { SignIn } from './pages/SignIn';
import { SsoButton } from './components/SsoButton';
import { Dashboard } from './pages/Dashboard';
import { DatabaseForm } from './pages/DatabaseForm';
import { DatabasePage } from './pages/DatabasePage';
import { BackupPage } from './pages/BackupPage';
import { RestorePage } from './pages/RestorePage';
import { Timeline } from './pages/Timeline';
import { Alerts } from './pages/Alerts';
import { Channels } from './pages/Channels';
import { Servers } from './pages/Servers';
import { Users } from './pages/Users';
import { useOpenAlerts } from './alerts';
import { NotFound } from './pages/NotFound';

type SignedIn = 'checking' | 'out' | 'token' | 'session';

export function App({ client }: { client?: QueryClient }) {
  const [queryClient] = useState(() => client ?? makeQueryClient());
  // A token in this tab, else perhaps a session cookie (HttpOnly: asked of the server).
  const [state, setState] = useState<SignedIn>(() => (getToken() ? 'token' : 'checking'));
  const [expired, setExpired] = useState(false);

  useEffect(
    () =>
      onUnauthorized(() => {
        clearToken();
        setCsrf(null);
        queryClient.clear();
        setExpired(true);
        setState('out');
      }),
    [queryClient],
  );

  useEffect(() => {
    if (state !== 'checking') return;
    let live = true;
    api
      .session(false)
      .then((s) => {
        if (!live) return;
        if (s.csrf_token) {
          setCsrf(s.csrf_token);
          queryClient.setQueryData(['session'], s);
          setState('session');
        } else {
          setState('out');
        }
      })
      .catch(() => live && setState('out'));
    return () => {
      live = false;
    };
  }, [state, queryClient]);

  function signIn(t: string) {
    setToken(t);
    setCsrf(null);
    setExpired(false);
    setState('token');
  }

  function signedIn(s: SessionView) {
    clearToken();
    setCsrf(s.csrf_token);
    queryClient.clear();
    queryClient.setQueryData(['session'], s);
    setExpired(false);
    setState('session');
  }

  function signOut() {
    const wasSession = state === 'session';
    clearToken();
    setCsrf(null);
    queryClient.clear();
    setExpired(false);
    setState('out');
    if (wasSession) void api.signOut().catch(() => undefined);
  }

  let body: ReactNode;
  if (state === 'checking') body = <p className="placeholder">Loading…</p>;
  else if (state === 'out')
    body = (
      <SignIn
        onSignedIn={signIn}
        onSession={signedIn}
        notice={expired ? 'The server no longer accepts your sign-in (token or session). Sign in again.' : null}
        more={<SsoButton />}
      />
    );
  else body = <Shell onSignOut={signOut} />;
  return <QueryClientProvider client={queryClient}>{body}</QueryClientProvider>;
}

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const { path } = useLocation();
  const section = path.startsWith('/timeline')
    ? 'timeline'
    : path.startsWith('/alerts')
      ? 'alerts'
      : path.startsWith('/channels')
        ? 'channels'
        : path.startsWith('/servers')
          ? 'servers'
          : path.startsWith('/users')
            ? 'users'
            : 'databases';
  const open = useOpenAlerts();
  const { session, deny } = useAccess();
  const openCount = open.data?.length;
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          Backline
        </Link>
        <nav aria-label="Main">
          <Link to="/" aria-current={section === 'databases' ? 'page' : undefined}>
            Databases
          </Link>
          {deny('see-all') ? null : (
            <Link to="/servers" aria-current={section === 'servers' ? 'page' : undefined}>
              Servers
            </Link>
          )}
          <Link to="/timeline" aria-current={section === 'timeline' ? 'page' : undefined}>
            Timeline
          </Link>
          <Link to="/alerts" aria-current={section === 'alerts' ? 'page' : undefined} data-testid="nav-alerts">
            Alerts{' '}
            {/* The name read out is the text shown ("Alerts 2") plus "open": no aria-label that differs from it. */}
            <span className={`nav-count${openCount ? ' nav-count-bad' : ''}`} data-testid="nav-alert-count">
              {openCount ? openCount : ''}
            </span>
            {openCount ? (
              <>
                {' '}
                <span className="visually-hidden">open</span>
              </>
            ) : null}
          </Link>
          <Link to="/channels" aria-current={section === 'channels' ? 'page' : undefined}>
            Channels
          </Link>
          {session?.role === 'admin' ? (
            <Link to="/users" aria-current={section === 'users' ? 'page' : undefined}>
              Users &amp; tokens
            </Link>
          ) : null}
        </nav>
        <div className="whoami">
          {session ? (
            <span data-testid="whoami" title={session.databases ? `Limited to ${session.databases.join(', ')}` : undefined}>
              <span className="whoami-name">{session.display_name || session.name}</span>{' '}
              <span className={`role-badge role-${session.role}`}>{session.role}</span>
              {session.databases ? <span className="visually-hidden"> (limited to some databases)</span> : null}
            </span>
          ) : null}
          <button type="button" className="button-link signout" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Routes path={path} />
      </main>
    </div>
  );
}

function Routes({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if (path === '/' || path === '/databases') return <Dashboard />;
  if (path === '/databases/new') return <Needs action="add-database" title="Add database" page={<DatabaseForm />} />;
  if ((m = match('/databases/:id/edit', path)))
    return <Needs action="manage" title="Edit database" page={<DatabaseForm id={m.id!} />} />;
  if ((m = match('/databases/:id', path))) return <DatabasePage id={m.id!} />;
  if ((m = match('/backups/:id', path))) return <BackupPage id={m.id!} />;
  if ((m = match('/restores/:id', path))) return <RestorePage id={m.id!} />;
  if (path === '/timeline') return <Timeline />;
  if (path === '/alerts') return <Alerts />;
  if (path === '/channels') return <Channels />;
  if (path === '/servers') return <Servers />;
  if (path === '/users') return <Users />;
  return <NotFound />;
}

/** A page only some roles may use: the others are told which role it needs, not shown a form the server would refuse. */
function Needs({ action, title, page }: { action: Action; title: string; page: ReactNode }) {
  const reason = useAccess().deny(action);
  if (!reason) return page;
  return (
    <section className="page narrow">
      <h1>{title}</h1>
      <p className="alert alert-warn" role="status" data-testid="page-denied">
        {reason}
      </p>
    </section>
  );
}
