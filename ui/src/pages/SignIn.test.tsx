import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../App';
import { stubFetch } from '../test/fetchStub';

describe('sign-in and token handling', () => {
  it('says where the admin token is', async () => {
    render(<App />);
    const input = await screen.findByLabelText('Admin token');
    expect(input).toHaveAccessibleDescription(
      'Paste the admin token: it is in <data dir>/admin.token on the server (default ./backline-data/admin.token), or the value of BACKLINE_ADMIN_TOKEN if the server was started with it.',
    );
    expect(input).toHaveAttribute('type', 'password');
  });

  it('shows a clear message for a wrong token and keeps nothing', async () => {
    stubFetch(() => ({ status: 401, body: { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'invalid token' } }));
    render(<App />);
    await userEvent.type(await screen.findByLabelText('Admin token'), 'nope');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in with token' }));
    expect(await screen.findByText(/server rejected this token \(401 Unauthorized\)/)).toBeInTheDocument();
    expect(sessionStorage.getItem('backline.token')).toBeNull();
    expect(window.location.href).not.toContain('nope');
  });

  it('keeps a good token in sessionStorage (never the URL) and sends it as a bearer token', async () => {
    const calls = stubFetch((c) => (c.path === '/api/v1/databases' ? { status: 200, body: { items: [] } } : undefined));
    render(<App />);
    await userEvent.type(await screen.findByLabelText('Admin token'), 's3cret');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in with token' }));
    expect(await screen.findByText(/No databases yet/)).toBeInTheDocument();
    expect(sessionStorage.getItem('backline.token')).toBe('s3cret');
    expect(window.location.href).not.toContain('s3cret');
    // The first call asked whether a session cookie is there (and the sign-in page whether single
    // sign-on is configured, GET /api/v1/oidc: public); every other call sends the token.
    expect(calls[0]!.path).toBe('/api/v1/session');
    const rest = calls.slice(1).filter((c) => c.path !== '/api/v1/oidc');
    expect(rest.length).toBeGreaterThan(0);
    expect(rest.every((c) => c.headers.Authorization === 'Bearer s3cret')).toBe(true);
  });

  it('drops the token and asks again when the server later answers 401', async () => {
    sessionStorage.setItem('backline.token', 'revoked');
    stubFetch(() => ({ status: 401, body: { title: 'Unauthorized', status: 401 } }));
    render(<App />);
    expect(await screen.findByText(/no longer accepts your sign-in/)).toBeInTheDocument();
    await waitFor(() => expect(sessionStorage.getItem('backline.token')).toBeNull());
  });

  it('signs out on request', async () => {
    sessionStorage.setItem('backline.token', 'tok');
    stubFetch((c) => (c.path === '/api/v1/databases' ? { status: 200, body: { items: [] } } : undefined));
    render(<App />);
    await userEvent.click(await screen.findByRole('button', { name: 'Sign out' }));
    expect(await screen.findByLabelText('Admin token')).toBeInTheDocument();
    expect(sessionStorage.getItem('backline.token')).toBeNull();
  });

  it('signs in with a username and password: a session, its CSRF header on writes, the user in the header', async () => {
    const view = {
      actor: 'user:u1',
      name: 'olive',
      display_name: 'Olive Operator',
      role: 'operator',
      databases: null,
      csrf_token: 'csrf-123',
    };
    let signedIn = false;
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/session' && c.method === 'GET') {
        return signedIn ? { status: 200, body: view } : { status: 401, body: { title: 'Unauthorized', status: 401 } };
      }
      if (c.path === '/api/v1/session' && c.method === 'POST') {
        const body = c.body as { password: string };
        if (body.password !== 'right-password') {
          return { status: 401, body: { title: 'Unauthorized', status: 401, detail: 'wrong username or password' } };
        }
        signedIn = true;
        return { status: 200, body: view };
      }
      if (c.path === '/api/v1/session' && c.method === 'DELETE') return { status: 204 };
      if (c.path === '/api/v1/databases') return { status: 200, body: { items: [] } };
      if (c.path === '/api/v1/channels' && c.method === 'POST') return { status: 403, body: { title: 'Forbidden', status: 403 } };
      return undefined;
    });
    render(<App />);
    await userEvent.type(await screen.findByLabelText('Username'), 'olive');
    await userEvent.type(screen.getByLabelText('Password'), 'wrong');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText('wrong username or password')).toBeInTheDocument();
    await userEvent.clear(screen.getByLabelText('Password'));
    await userEvent.type(screen.getByLabelText('Password'), 'right-password');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    const who = await screen.findByTestId('whoami');
    expect(who).toHaveTextContent('Olive Operator');
    expect(who).toHaveTextContent('operator');
    expect(sessionStorage.getItem('backline.token')).toBeNull();
    // Operators get no Users entry; the password went in the body, never in a URL.
    expect(screen.queryByRole('link', { name: 'Users & tokens' })).toBeNull();
    expect(calls.some((c) => c.path.includes('right-password'))).toBe(false);
    // A write made from here on carries the CSRF token and no bearer token.
    const { api } = await import('../api');
    await api.createChannel({ name: 'x', type: 'webhook', url: 'https://example.com/' }).catch(() => undefined);
    const write = calls.find((c) => c.path === '/api/v1/channels' && c.method === 'POST')!;
    expect(write.headers['X-CSRF-Token']).toBe('csrf-123');
    expect(write.headers.Authorization).toBeUndefined();
    await userEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByLabelText('Username')).toBeInTheDocument();
    expect(calls.some((c) => c.path === '/api/v1/session' && c.method === 'DELETE')).toBe(true);
  });

  it('finds a session cookie at start (a reload) and stays signed in', async () => {
    stubFetch((c) => {
      if (c.path === '/api/v1/session') {
        return { status: 200, body: { actor: 'user:u2', name: 'vera', display_name: '', role: 'viewer', databases: ['shop'], csrf_token: 'c' } };
      }
      if (c.path === '/api/v1/databases') return { status: 200, body: { items: [] } };
      return undefined;
    });
    render(<App />);
    const who = await screen.findByTestId('whoami');
    expect(who).toHaveTextContent('vera');
    expect(who).toHaveTextContent('viewer');
    expect(who).toHaveAttribute('title', 'Limited to shop');
    // A viewer limited to some databases: no Servers entry, no "Add database".
    expect(screen.queryByRole('link', { name: 'Servers' })).toBeNull();
    expect(await screen.findByText('No databases you may see yet.')).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Add database' })).toBeNull();
  });

  it('leaves room for more ways to sign in between the forms', async () => {
    const { SignIn } = await import('./SignIn');
    render(<SignIn onSignedIn={() => {}} onSession={() => {}} notice={null} more={<button type="button">Sign in with SSO</button>} />);
    expect(screen.getByRole('button', { name: 'Sign in with SSO' })).toBeInTheDocument();
    expect(screen.getByText(/backline-data\/admin\.token/)).toBeInTheDocument();
  });

  it('tells a viewer that adding a database needs the admin role, instead of a form', async () => {
    sessionStorage.setItem('backline.token', 'viewer-token');
    window.history.replaceState(null, '', '/databases/new');
    stubFetch((c) =>
      c.path === '/api/v1/session'
        ? { status: 200, body: { actor: 'token:t', name: 'ci', display_name: null, role: 'viewer', databases: null, csrf_token: null } }
        : { status: 200, body: { items: [] } },
    );
    render(<App />);
    expect(await screen.findByTestId('page-denied')).toHaveTextContent('Adding a database needs the admin role; you are a viewer.');
    expect(screen.queryByRole('button', { name: 'Add database' })).toBeNull();
  });

  it('offers "Sign in with <provider>" when the server has single sign-on', async () => {
    stubFetch((c) => {
      if (c.path === '/api/v1/session') return { status: 401, body: { title: 'Unauthorized', status: 401 } };
      if (c.path === '/api/v1/oidc')
        return { status: 200, body: { enabled: true, name: 'Keycloak', login_url: '/api/v1/oidc/login' } };
      return undefined;
    });
    render(<App />);
    const sso = await screen.findByRole('link', { name: 'Sign in with Keycloak' });
    expect(sso).toHaveAttribute('href', '/api/v1/oidc/login');
    expect(screen.getByLabelText('Admin token')).toBeInTheDocument();
  });
});
