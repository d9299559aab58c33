import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, fieldErrorsOf, type ApiToken, type Role, type User } from '../api';
import { roleAtLeast, useAccess } from '../access';
import { ErrorMessage } from '../components/ErrorMessage';
import { Time } from '../components/Time';

const ROLES: Role[] = ['viewer', 'operator', 'admin'];

/** "a, b" → ["a", "b"]; empty: undefined (every database). */
function scopeOf(text: string): string[] | undefined {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return list.length ? list : undefined;
}

function scopeText(databases: string[] | null): string {
  return databases ? databases.join(', ') : 'every database';
}

/** Users and API tokens, for admins: create, disable, change role; issue (secret shown once) and revoke. */
export function Users() {
  const { session, deny } = useAccess();
  if (!session) return <p className="placeholder">Loading…</p>;
  const noTokens = deny('tokens');
  if (noTokens) {
    return (
      <div className="page narrow">
        <h1>Users &amp; tokens</h1>
        <p className="alert alert-warn" role="status" data-testid="users-denied">
          Managing users and tokens needs the admin role; you are signed in as {session.display_name || session.name},{' '}
          {session.role === 'viewer' ? 'a' : 'an'} {session.role}.
        </p>
      </div>
    );
  }
  const noUsers = deny('users');
  return (
    <div className="page">
      <h1>Users &amp; tokens</h1>
      {noUsers ? (
        <p className="alert alert-warn" role="status">
          {noUsers} You can still issue and revoke your own tokens below.
        </p>
      ) : (
        <UsersSection />
      )}
      <TokensSection ownRole={session.role} ownScope={session.databases} />
    </div>
  );
}

function UsersSection() {
  const users = useQuery({ queryKey: ['users'], queryFn: api.listUsers });
  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      {users.error ? <ErrorMessage error={users.error} /> : null}
      {users.data ? (
        users.data.length === 0 ? (
          <p className="muted">No users yet: create the first below.</p>
        ) : (
          <table className="table responsive users-table">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Databases</th>
                <th scope="col">Last sign-in</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {users.data.map((u) => (
                <UserRow key={u.id} user={u} />
              ))}
            </tbody>
          </table>
        )
      ) : (
        !users.error && <p className="placeholder">Loading…</p>
      )}
      <NewUserForm />
    </section>
  );
}

function UserRow({ user: u }: { user: User }) {
  const qc = useQueryClient();
  const change = useMutation({
    mutationFn: (body: { role?: Role; disabled?: boolean }) => api.updateUser(u.id, body),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['users'] });
      void qc.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const roleId = `role-${u.id}`;
  return (
    <tr data-testid={`user-${u.username}`}>
      <th scope="row">
        {u.display_name || u.username}
        <span className="sub">
          {u.username}
          {u.origin !== 'local' ? ` · ${u.origin}` : ''}
        </span>
      </th>
      <td data-label="Role">
        <label htmlFor={roleId} className="visually-hidden">
          Role of {u.username}
        </label>
        <select
          id={roleId}
          value={u.role}
          disabled={change.isPending}
          onChange={(e) => change.mutate({ role: e.target.value as Role })}
        >
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </td>
      <td data-label="Databases">{scopeText(u.databases)}</td>
      <td data-label="Last sign-in">{u.last_sign_in_at ? <Time iso={u.last_sign_in_at} /> : <span className="muted">never</span>}</td>
      <td data-label="Status">
        <div className="row-actions">
          <span className={`badge ${u.disabled ? 'badge-removed' : 'badge-completed'}`}>{u.disabled ? 'disabled' : 'active'}</span>
          <button
            type="button"
            disabled={change.isPending}
            onClick={() => change.mutate({ disabled: !u.disabled })}
            aria-label={`${u.disabled ? 'Enable' : 'Disable'} ${u.username}`}
          >
            {u.disabled ? 'Enable' : 'Disable'}
          </button>
        </div>
        {change.error ? <ErrorMessage error={change.error} /> : null}
      </td>
    </tr>
  );
}

function NewUserForm() {
  const qc = useQueryClient();
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [databases, setDatabases] = useState('');
  const create = useMutation({
    mutationFn: () =>
      api.createUser({
        username: username.trim(),
        password,
        role,
        ...(displayName.trim() ? { display_name: displayName.trim() } : {}),
        ...(scopeOf(databases) ? { databases: scopeOf(databases) } : {}),
      }),
    onSuccess: () => {
      setUsername('');
      setDisplayName('');
      setPassword('');
      setDatabases('');
      void qc.invalidateQueries({ queryKey: ['users'] });
    },
  });
  const errors = fieldErrorsOf(create.error, 'username');
  const errorOf = (f: string) => errors.filter((e) => e.field === f).map((e) => e.message).join('; ');
  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate();
  }
  return (
    <form className="card form-grid" onSubmit={submit} noValidate aria-labelledby="new-user-title">
      <h3 id="new-user-title">New user</h3>
      <Input id="new-username" label="Username" value={username} onChange={setUsername} error={errorOf('username')} autoComplete="off" />
      <Input id="new-display-name" label="Display name (optional)" value={displayName} onChange={setDisplayName} error={errorOf('display_name')} />
      <Input
        id="new-password"
        label="Password"
        type="password"
        value={password}
        onChange={setPassword}
        error={errorOf('password')}
        hint="At least 8 characters. Stored as an argon2id hash; tell it to the user yourself."
        autoComplete="new-password"
      />
      <RoleSelect id="new-role" value={role} onChange={setRole} />
      <Input
        id="new-databases"
        label="Limited to databases (optional)"
        value={databases}
        onChange={setDatabases}
        error={errorOf('databases')}
        hint="Database names, ids or patterns such as staging_*, separated by commas. Empty: every database."
      />
      <div className="actions">
        <button type="submit" className="primary" disabled={create.isPending}>
          Create user
        </button>
      </div>
      {create.error && errors.length === 0 ? <ErrorMessage error={create.error} /> : null}
      <p className="hint" role="status">
        {create.isSuccess ? 'User created.' : ''}
      </p>
    </form>
  );
}

function TokensSection({ ownRole, ownScope }: { ownRole: Role; ownScope: string[] | null }) {
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: api.listTokens });
  const [issued, setIssued] = useState<{ name: string; token: string } | null>(null);
  return (
    <section aria-labelledby="tokens-title">
      <h2 id="tokens-title">API tokens</h2>
      <p className="muted">
        For machines (CI, Prometheus): send <code>Authorization: Bearer &lt;token&gt;</code>. The secret is shown once and stored
        only as a hash.
      </p>
      {issued ? <TokenOnce issued={issued} onDone={() => setIssued(null)} /> : null}
      {tokens.error ? <ErrorMessage error={tokens.error} /> : null}
      {tokens.data ? (
        tokens.data.length === 0 ? (
          <p className="muted">No tokens yet.</p>
        ) : (
          <table className="table responsive tokens-table">
            <thead>
              <tr>
                <th scope="col">Token</th>
                <th scope="col">Role</th>
                <th scope="col">Databases</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.map((t) => (
                <TokenRow key={t.id} token={t} />
              ))}
            </tbody>
          </table>
        )
      ) : (
        !tokens.error && <p className="placeholder">Loading…</p>
      )}
      <NewTokenForm ownRole={ownRole} ownScope={ownScope} onIssued={setIssued} />
    </section>
  );
}

function TokenRow({ token: t }: { token: ApiToken }) {
  const qc = useQueryClient();
  const revoke = useMutation({
    mutationFn: () => api.revokeToken(t.id),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['tokens'] }),
  });
  const expired = t.expires_at !== null && new Date(t.expires_at).getTime() < Date.now();
  const status = t.revoked ? 'revoked' : expired ? 'expired' : 'active';
  return (
    <tr data-testid={`token-${t.name}`}>
      <th scope="row">
        {t.name}
        <span className="sub" title={t.id}>
          by {t.owner}
        </span>
      </th>
      <td data-label="Role">{t.role}</td>
      <td data-label="Databases">{scopeText(t.databases)}</td>
      <td data-label="Expires">{t.expires_at ? <Time iso={t.expires_at} /> : <span className="muted">never</span>}</td>
      <td data-label="Last used">{t.last_used_at ? <Time iso={t.last_used_at} /> : <span className="muted">never</span>}</td>
      <td data-label="Status">
        <div className="row-actions">
          <span className={`badge ${status === 'active' ? 'badge-completed' : 'badge-removed'}`}>{status}</span>
          {t.revoked ? null : (
            <button type="button" disabled={revoke.isPending} onClick={() => revoke.mutate()} aria-label={`Revoke ${t.name}`}>
              Revoke
            </button>
          )}
        </div>
        {revoke.error ? <ErrorMessage error={revoke.error} /> : null}
      </td>
    </tr>
  );
}

function NewTokenForm({
  ownRole,
  ownScope,
  onIssued,
}: {
  ownRole: Role;
  ownScope: string[] | null;
  onIssued: (t: { name: string; token: string }) => void;
}) {
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [databases, setDatabases] = useState(ownScope ? ownScope.join(', ') : '');
  const [expires, setExpires] = useState('');
  const issue = useMutation({
    mutationFn: () =>
      api.issueToken({
        name: name.trim(),
        role,
        ...(scopeOf(databases) ? { databases: scopeOf(databases) } : {}),
        ...(expires ? { expires_at: new Date(expires).toISOString() } : {}),
      }),
    onSuccess: ({ token }) => {
      onIssued({ name: name.trim(), token });
      setName('');
      setExpires('');
      void qc.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const errors = fieldErrorsOf(issue.error, 'name');
  const errorOf = (f: string) => errors.filter((e) => e.field === f).map((e) => e.message).join('; ');
  function submit(e: FormEvent) {
    e.preventDefault();
    issue.mutate();
  }
  return (
    <form className="card form-grid" onSubmit={submit} noValidate aria-labelledby="new-token-title">
      <h3 id="new-token-title">New token</h3>
      <Input id="token-name" label="Name" value={name} onChange={setName} error={errorOf('name')} hint="What uses it, e.g. ci-deploy." />
      <RoleSelect id="token-role" value={role} onChange={setRole} highest={ownRole} />
      <Input
        id="token-databases"
        label={ownScope ? 'Limited to databases' : 'Limited to databases (optional)'}
        value={databases}
        onChange={setDatabases}
        error={errorOf('databases')}
        hint={
          ownScope
            ? `Within your own: ${ownScope.join(', ')}.`
            : 'Database names, ids or patterns, separated by commas. Empty: every database.'
        }
      />
      <Input
        id="token-expires"
        label="Expires (optional)"
        type="datetime-local"
        value={expires}
        onChange={setExpires}
        error={errorOf('expires_at')}
        hint="Your local time. Empty: never expires (revoke it when it is no longer needed)."
      />
      <div className="actions">
        <button type="submit" className="primary" disabled={issue.isPending}>
          Issue token
        </button>
      </div>
      {issue.error && errors.length === 0 ? <ErrorMessage error={issue.error} /> : null}
    </form>
  );
}

/** The new token's secret, shown once: gone from the page when closed. */
function TokenOnce({ issued, onDone }: { issued: { name: string; token: string }; onDone: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);
  useEffect(() => ref.current?.focus(), []);
  async function copy() {
    try {
      await navigator.clipboard.writeText(issued.token);
      setCopied('yes');
    } catch {
      setCopied('no');
    }
  }
  return (
    <div className="alert alert-warn secret-once" role="alert" tabIndex={-1} ref={ref} data-testid="token-once">
      <strong>Copy the token “{issued.name}” now: it is shown only this once.</strong>
      <p>Backline keeps only its hash and cannot show it again. Send it as <code>Authorization: Bearer &lt;token&gt;</code>.</p>
      <div className="secret-row">
        <label htmlFor="token-secret" className="visually-hidden">
          Token secret
        </label>
        <input id="token-secret" className="mono" readOnly value={issued.token} onFocus={(e) => e.currentTarget.select()} data-testid="token-secret" />
        <button type="button" onClick={() => void copy()}>
          Copy
        </button>
        <button type="button" className="primary" onClick={onDone}>
          I have copied it
        </button>
      </div>
      <p className="hint" role="status">
        {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'no' ? 'Could not copy: select the text and copy it by hand.' : ''}
      </p>
    </div>
  );
}

function Input({
  id,
  label,
  value,
  onChange,
  error,
  hint,
  type = 'text',
  autoComplete,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  error: string;
  hint?: string;
  type?: string;
  autoComplete?: string;
}) {
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type={type}
        value={value}
        autoComplete={autoComplete}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={described || undefined}
      />
      {hint ? (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** A role choice; roles above `highest` are offered disabled, with the reason. */
function RoleSelect({ id, value, onChange, highest = 'admin' }: { id: string; value: Role; onChange: (r: Role) => void; highest?: Role }) {
  return (
    <div className="field">
      <label htmlFor={id}>Role</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as Role)} aria-describedby={`${id}-hint`}>
        {ROLES.map((r) => (
          <option key={r} value={r} disabled={!roleAtLeast(highest, r)}>
            {r}
            {roleAtLeast(highest, r) ? '' : ' (higher than your own)'}
          </option>
        ))}
      </select>
      <p id={`${id}-hint`} className="hint">
        Viewers read everything but secrets; operators also back up, verify, pin, acknowledge and restore into restore targets;
        admins change everything.
      </p>
    </div>
  );
}
