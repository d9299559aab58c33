import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Users } from './Users';
import type { ApiToken, SessionView, User } from '../api';
import { stubFetch } from '../test/fetchStub';
import { renderWithClient } from '../test/render';

const admin: SessionView = { actor: 'user:a', name: 'ada', display_name: 'Ada', role: 'admin', databases: null, csrf_token: 'c' };
const user = (over: Partial<User> = {}): User => ({
  id: 'u1',
  username: 'olive',
  display_name: 'Olive Operator',
  role: 'operator',
  databases: null,
  disabled: false,
  origin: 'local',
  created_at: '2025-01-01T10:00:00Z',
  last_sign_in_at: null,
  ...over,
});
const token = (over: Partial<ApiToken> = {}): ApiToken => ({
  id: 't1',
  name: 'ci-deploy',
  owner: 'user:a',
  role: 'operator',
  databases: ['shop'],
  expires_at: null,
  revoked: false,
  revoked_at: null,
  created_at: '2025-01-01T10:00:00Z',
  last_used_at: '2025-01-02T10:00:00Z',
  ...over,
});

describe('Users & tokens', () => {
  it('creates a user with a role and a database scope, changes a role, disables', async () => {
    let users = [user()];
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/session') return { status: 200, body: admin };
      if (c.path === '/api/v1/users' && c.method === 'GET') return { status: 200, body: { items: users } };
      if (c.path === '/api/v1/users' && c.method === 'POST') {
        users = [...users, user({ id: 'u2', username: 'vera', display_name: 'Vera', role: 'viewer', databases: ['staging_*'] })];
        return { status: 201, body: { id: 'u2' } };
      }
      if (c.path === '/api/v1/users/u1' && c.method === 'PATCH') {
        users = users.map((u) => (u.id === 'u1' ? { ...u, ...(c.body as Partial<User>) } : u));
        return { status: 200, body: users[0] };
      }
      if (c.path === '/api/v1/tokens') return { status: 200, body: { items: [] } };
      return undefined;
    });
    renderWithClient(<Users />);
    const row = await screen.findByTestId('user-olive');
    expect(row).toHaveTextContent('Olive Operator');
    expect(row).toHaveTextContent('every database');
    await userEvent.type(screen.getByLabelText('Username'), 'vera');
    await userEvent.type(screen.getByLabelText('Display name (optional)'), 'Vera');
    await userEvent.type(screen.getByLabelText('Password'), 'a long passphrase');
    await userEvent.selectOptions(document.getElementById('new-role')!, 'viewer');
    await userEvent.type(screen.getByLabelText('Limited to databases (optional)', { selector: '#new-databases' }), 'staging_*');
    await userEvent.click(screen.getByRole('button', { name: 'Create user' }));
    expect(await screen.findByTestId('user-vera')).toHaveTextContent('staging_*');
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      username: 'vera',
      password: 'a long passphrase',
      role: 'viewer',
      display_name: 'Vera',
      databases: ['staging_*'],
    });
    await userEvent.selectOptions(within(row).getByLabelText('Role of olive'), 'admin');
    await waitFor(() => expect(calls.some((c) => c.method === 'PATCH' && (c.body as { role?: string }).role === 'admin')).toBe(true));
    await userEvent.click(within(screen.getByTestId('user-olive')).getByRole('button', { name: 'Disable olive' }));
    expect(await within(screen.getByTestId('user-olive')).findByRole('button', { name: 'Enable olive' })).toBeInTheDocument();
    expect(screen.getByTestId('user-olive')).toHaveTextContent('disabled');
  });

  it('issues a token whose secret is shown once, with a copy button, and is gone when closed', async () => {
    let tokens: ApiToken[] = [];
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/session') return { status: 200, body: admin };
      if (c.path === '/api/v1/users') return { status: 200, body: { items: [] } };
      if (c.path === '/api/v1/tokens' && c.method === 'GET') return { status: 200, body: { items: tokens } };
      if (c.path === '/api/v1/tokens' && c.method === 'POST') {
        tokens = [token()];
        return { status: 201, body: { id: 't1', token: 'blt_secret_value' } };
      }
      if (c.path === '/api/v1/tokens/t1' && c.method === 'DELETE') {
        tokens = [token({ revoked: true })];
        return { status: 204 };
      }
      return undefined;
    });
    const written: string[] = [];
    Object.defineProperty(navigator, 'clipboard', { value: { writeText: async (t: string) => void written.push(t) }, configurable: true });
    renderWithClient(<Users />);
    await screen.findByText('No tokens yet.');
    await userEvent.type(screen.getByLabelText('Name'), 'ci-deploy');
    await userEvent.selectOptions(document.getElementById('token-role')!, 'operator');
    await userEvent.click(screen.getByRole('button', { name: 'Issue token' }));
    const once = await screen.findByTestId('token-once');
    expect(within(once).getByTestId('token-secret')).toHaveValue('blt_secret_value');
    await userEvent.click(within(once).getByRole('button', { name: 'Copy' }));
    expect(written).toEqual(['blt_secret_value']);
    expect(await within(once).findByText('Copied to the clipboard.')).toBeInTheDocument();
    const row = await screen.findByTestId('token-ci-deploy');
    expect(row).toHaveTextContent('shop');
    await userEvent.click(within(once).getByRole('button', { name: 'I have copied it' }));
    expect(screen.queryByTestId('token-once')).toBeNull();
    expect(document.body.innerHTML).not.toContain('blt_secret_value');
    await userEvent.click(within(screen.getByTestId('token-ci-deploy')).getByRole('button', { name: 'Revoke ci-deploy' }));
    expect(await within(screen.getByTestId('token-ci-deploy')).findByText('revoked')).toBeInTheDocument();
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ name: 'ci-deploy', role: 'operator' });
  });

  it('offers no role higher than the issuer’s own, and keeps a scoped admin to tokens within its scope', async () => {
    stubFetch((c) => {
      if (c.path === '/api/v1/session') return { status: 200, body: { ...admin, databases: ['shop'] } };
      if (c.path === '/api/v1/tokens') return { status: 200, body: { items: [] } };
      return undefined;
    });
    renderWithClient(<Users />);
    expect(await screen.findByText(/Managing users needs access to every database/)).toBeInTheDocument();
    expect(screen.queryByRole('heading', { name: 'Users' })).toBeNull();
    expect(screen.getByLabelText('Limited to databases')).toHaveValue('shop');
  });

  it('tells a non-admin which role the page needs', async () => {
    stubFetch((c) =>
      c.path === '/api/v1/session'
        ? { status: 200, body: { actor: 'user:o', name: 'olive', display_name: 'Olive', role: 'operator', databases: null, csrf_token: 'c' } }
        : undefined,
    );
    renderWithClient(<Users />);
    expect(await screen.findByTestId('users-denied')).toHaveTextContent(
      'Managing users and tokens needs the admin role; you are signed in as Olive, an operator.',
    );
  });
});
