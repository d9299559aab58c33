import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, api, type SessionView } from '../api';

export interface SignInProps {
  /** An API token was checked and may be kept (in sessionStorage). */
  onSignedIn: (token: string) => void;
  /** A username and password gave a session (its cookie is HttpOnly; the view has the CSRF token). */
  onSession: (session: SessionView) => void;
  notice: string | null;
  /** More ways to sign in (e.g. a single sign-on button), shown between the two forms. */
  more?: ReactNode;
}

function describe(err: unknown, what: string): string {
  if (err instanceof ApiError) return `Could not ${what}: ${err.message}`;
  return `Could not ${what}: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * Sign-in: a user's name and password (a session cookie), single sign-on buttons when `more` has
 * them, and an API token (the bootstrap admin token of the first hour, or one an admin issued).
 */
export function SignIn({ onSignedIn, onSession, notice, more }: SignInProps) {
  return (
    <main className="signin" id="main">
      <div className="signin-head">
        <h1>Backline</h1>
        <p className="muted">Backups and restores for your PostgreSQL and MariaDB databases.</p>
        {notice && (
          <p className="alert alert-warn" role="status">
            {notice}
          </p>
        )}
      </div>
      <div className="signin-methods">
        <section className="card signin-card" aria-labelledby="signin-password">
          <h2 id="signin-password">Your account</h2>
          <PasswordForm onSession={onSession} />
          {more}
        </section>
        <section className="card signin-card" aria-labelledby="signin-token">
          <h2 id="signin-token">API token</h2>
          <TokenForm onSignedIn={onSignedIn} />
        </section>
      </div>
    </main>
  );
}

function PasswordForm({ onSession }: { onSession: (s: SessionView) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!username.trim() || !password) {
      setError('Enter your username and password.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onSession(await api.signIn(username.trim(), password));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 429)) {
        setError(err.problem.detail ?? err.message);
      } else {
        setError(describe(err, 'sign in'));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate>
      <label htmlFor="username">Username</label>
      <input
        id="username"
        name="username"
        autoComplete="username"
        autoFocus
        value={username}
        onChange={(e) => setUsername(e.target.value)}
      />
      <label htmlFor="password">Password</label>
      <input
        id="password"
        name="password"
        type="password"
        autoComplete="current-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? 'password-error' : undefined}
      />
      <p id="password-error" className="field-error" role="alert">
        {error ?? ''}
      </p>
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
      <p className="hint">An admin creates accounts under Users &amp; tokens, or with <code>backline user add</code>.</p>
    </form>
  );
}

/** Asks for an API token and checks it against the server before keeping it (in sessionStorage). */
function TokenForm({ onSignedIn }: { onSignedIn: (token: string) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Paste the admin token.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.checkToken(t);
      onSignedIn(t);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        setError(
          `The server rejected this token (401 ${err.problem.title ?? 'Unauthorized'}). ` +
            'Check that it is the whole of admin.token in the server’s data directory, or the BACKLINE_ADMIN_TOKEN it was started with.',
        );
      } else {
        setError(describe(err, 'sign in'));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate>
      <label htmlFor="token">Admin token</label>
      <p id="token-where" className="hint token-where">
        Paste the admin token: it is in <code>&lt;data dir&gt;/admin.token</code> on the server (default{' '}
        <code>./backline-data/admin.token</code>), or the value of <code>BACKLINE_ADMIN_TOKEN</code> if the server was
        started with it.
      </p>
      <input
        id="token"
        name="token"
        type="password"
        autoComplete="off"
        value={token}
        onChange={(e) => setToken(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? 'token-where token-error' : 'token-where'}
      />
      <p id="token-error" className="field-error" role="alert">
        {error ?? ''}
      </p>
      <button type="submit" disabled={busy}>
        {busy ? 'Checking…' : 'Sign in with token'}
      </button>
      <p className="hint">
        Any API token works here too. It is kept in this browser tab only, and is forgotten when the tab closes.
      </p>
    </form>
  );
}
