import { useState, type FormEvent } from 'react';
import { ApiError, api } from '../api';

/** Asks for the API token and checks it against the server before keeping it (in sessionStorage). */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (token: string) => void; notice: string | null }) {
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
      } else if (err instanceof ApiError) {
        setError(`Could not sign in: ${err.message}`);
      } else {
        setError(`Could not sign in: ${err instanceof Error ? err.message : String(err)}`);
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="signin" id="main">
      <form className="card signin-card" onSubmit={submit} noValidate>
        <h1>Backline</h1>
        <p className="muted">Backups and restores for your PostgreSQL and MariaDB databases.</p>
        {notice && (
          <p className="alert alert-warn" role="status">
            {notice}
          </p>
        )}
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
          autoComplete="current-password"
          autoFocus
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'token-where token-error' : 'token-where'}
        />
        <p id="token-error" className="field-error" role="alert">
          {error ?? ''}
        </p>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p className="hint">The token is kept in this browser tab only, and is forgotten when the tab closes.</p>
      </form>
    </main>
  );
}
