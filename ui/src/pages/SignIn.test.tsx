import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../App';
import { stubFetch } from '../test/fetchStub';

describe('sign-in and token handling', () => {
  it('says where the admin token is', () => {
    render(<App />);
    const input = screen.getByLabelText('Admin token');
    expect(input).toHaveAccessibleDescription(
      'Paste the admin token: it is in <data dir>/admin.token on the server (default ./backline-data/admin.token), or the value of BACKLINE_ADMIN_TOKEN if the server was started with it.',
    );
    expect(input).toHaveAttribute('type', 'password');
  });

  it('shows a clear message for a wrong token and keeps nothing', async () => {
    stubFetch(() => ({ status: 401, body: { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'invalid token' } }));
    render(<App />);
    await userEvent.type(screen.getByLabelText('Admin token'), 'nope');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText(/server rejected this token \(401 Unauthorized\)/)).toBeInTheDocument();
    expect(sessionStorage.getItem('backline.token')).toBeNull();
    expect(window.location.href).not.toContain('nope');
  });

  it('keeps a good token in sessionStorage (never the URL) and sends it as a bearer token', async () => {
    const calls = stubFetch((c) => (c.path === '/api/v1/databases' ? { status: 200, body: { items: [] } } : undefined));
    render(<App />);
    await userEvent.type(screen.getByLabelText('Admin token'), 's3cret');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText(/No databases yet/)).toBeInTheDocument();
    expect(sessionStorage.getItem('backline.token')).toBe('s3cret');
    expect(window.location.href).not.toContain('s3cret');
    expect(calls.every((c) => c.headers.Authorization === 'Bearer s3cret')).toBe(true);
  });

  it('drops the token and asks again when the server later answers 401', async () => {
    sessionStorage.setItem('backline.token', 'revoked');
    stubFetch(() => ({ status: 401, body: { title: 'Unauthorized', status: 401 } }));
    render(<App />);
    expect(await screen.findByText(/no longer accepts your token/)).toBeInTheDocument();
    await waitFor(() => expect(sessionStorage.getItem('backline.token')).toBeNull());
  });

  it('signs out on request', async () => {
    sessionStorage.setItem('backline.token', 'tok');
    stubFetch((c) => (c.path === '/api/v1/databases' ? { status: 200, body: { items: [] } } : undefined));
    render(<App />);
    await userEvent.click(await screen.findByRole('button', { name: 'Sign out' }));
    expect(screen.getByLabelText('Admin token')).toBeInTheDocument();
    expect(sessionStorage.getItem('backline.token')).toBeNull();
  });
});
