import { useEffect, useState } from 'react';
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { onUnauthorized } from './api';
import { clearToken, getToken, setToken } from './auth';
import { makeQueryClient } from './queryClient';
import { Link, match, useLocation } from './router';
import { SignIn } from './pages/SignIn';
import { Dashboard } from './pages/Dashboard';
import { DatabaseForm } from './pages/DatabaseForm';
import { DatabasePage } from './pages/DatabasePage';
import { BackupPage } from './pages/BackupPage';
import { RestorePage } from './pages/RestorePage';
import { Timeline } from './pages/Timeline';
import { Alerts } from './pages/Alerts';
import { Channels } from './pages/Channels';
import { Servers } from './pages/Servers';
import { useOpenAlerts } from './alerts';
import { NotFound } from './pages/NotFound';

export function App({ client }: { client?: QueryClient }) {
  const [queryClient] = useState(() => client ?? makeQueryClient());
  const [token, setTokenState] = useState<string | null>(() => getToken());
  const [expired, setExpired] = useState(false);

  useEffect(
    () =>
      onUnauthorized(() => {
        clearToken();
        queryClient.clear();
        setExpired(true);
        setTokenState(null);
      }),
    [queryClient],
  );

  function signIn(t: string) {
    setToken(t);
    setExpired(false);
    setTokenState(t);
  }

  function signOut() {
    clearToken();
    queryClient.clear();
    setExpired(false);
    setTokenState(null);
  }

  return (
    <QueryClientProvider client={queryClient}>
      {token ? (
        <Shell onSignOut={signOut} />
      ) : (
        <SignIn onSignedIn={signIn} notice={expired ? 'The server no longer accepts your token. Sign in again.' : null} />
      )}
    </QueryClientProvider>
  );
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
          : 'databases';
  const open = useOpenAlerts();
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
          <Link to="/servers" aria-current={section === 'servers' ? 'page' : undefined}>
            Servers
          </Link>
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
        </nav>
        <button type="button" className="button-link signout" onClick={onSignOut}>
          Sign out
        </button>
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
  if (path === '/databases/new') return <DatabaseForm />;
  if ((m = match('/databases/:id/edit', path))) return <DatabaseForm id={m.id!} />;
  if ((m = match('/databases/:id', path))) return <DatabasePage id={m.id!} />;
  if ((m = match('/backups/:id', path))) return <BackupPage id={m.id!} />;
  if ((m = match('/restores/:id', path))) return <RestorePage id={m.id!} />;
  if (path === '/timeline') return <Timeline />;
  if (path === '/alerts') return <Alerts />;
  if (path === '/channels') return <Channels />;
  if (path === '/servers') return <Servers />;
  return <NotFound />;
}
