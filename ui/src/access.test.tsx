import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { denial } from './access';
import { shortActor } from './components/VersionsTable';
import type { Database, SessionView } from './api';
import { DatabasePage } from './pages/DatabasePage';
import { Alerts } from './pages/Alerts';
import { Channels } from './pages/Channels';
import { stubFetch, type StubCall } from './test/fetchStub';
import { alert, backup, database, channel } from './test/fixtures';
import { renderWithClient } from './test/render';

const session = (role: SessionView['role'], databases: string[] | null = null): SessionView => ({
  actor: `user:${role}`,
  name: role,
  display_name: null,
  role,
  databases,
  csrf_token: 'c',
});

/** The API as `who` sees it: one database (and `others`), one completed version, one open alert. */
function serve(who: SessionView, db: Database, others: Database[] = []) {
  return stubFetch((c: StubCall) => {
    if (c.path === '/api/v1/session') return { status: 200, body: who };
    if (c.path === `/api/v1/databases/${db.id}`) return { status: 200, body: db };
    if (c.path === '/api/v1/databases') return { status: 200, body: { items: [db, ...others] } };
    if (c.path.startsWith(`/api/v1/databases/${db.id}/backups?`)) return { status: 200, body: { items: [backup()] } };
    if (c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
    if (c.path.startsWith('/api/v1/alerts')) return { status: 200, body: { items: [alert()] } };
    if (c.path === '/api/v1/channels') return { status: 200, body: { items: [channel()] } };
    return undefined;
  });
}

describe('what a role may do', () => {
  it('shortens a principal id under a version, keeping names and system actors', () => {
    expect(shortActor('user:01a22e72-8c96-7424-b7a4-58a01c902501')).toBe('user 01a22e72…');
    expect(shortActor('token:bootstrap')).toBe('token:bootstrap');
    expect(shortActor('system:scheduler')).toBe('system:scheduler');
  });

  it('says why, in one place', () => {
    expect(denial(undefined, 'backup')).toBeNull();
    expect(denial(session('viewer'), 'backup')).toBe('Starting a backup needs the operator role; you are a viewer.');
    expect(denial(session('operator'), 'backup')).toBeNull();
    expect(denial(session('operator'), 'manage')).toBe('Changing a database needs the admin role; you are an operator.');
    expect(denial(session('admin', ['shop']), 'users')).toMatch(/every database; you are limited to shop/);
    expect(denial(session('admin', ['shop']), 'tokens')).toBeNull();
    expect(denial(session('operator'), 'restore', { name: 'prod', restore_target: false })).toMatch(/prod is not one/);
    expect(denial(session('operator'), 'restore', { name: 'staging', restore_target: true })).toBeNull();
    expect(denial(session('admin'), 'restore', { name: 'prod', restore_target: false })).toBeNull();
  });

  it('a viewer: "Back up now" and "Restore…" are disabled with the reason; no Edit, no Pin', async () => {
    const calls = serve(session('viewer'), database({ backups_completed: 1 }));
    renderWithClient(<DatabasePage id={database().id} />);
    await screen.findByTestId('restore-denied');
    const start = screen.getByRole('button', { name: 'Back up now' });
    expect(start).toBeDisabled();
    expect(start).toHaveAccessibleDescription('Starting a backup needs the operator role; you are a viewer.');
    const restore = screen.getByRole('button', { name: 'Restore…' });
    expect(restore).toBeDisabled();
    expect(restore.getAttribute('aria-describedby')).toContain(screen.getByTestId('restore-denied').id);
    expect(screen.queryByRole('link', { name: 'Edit' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Pin' })).toBeNull();
    await userEvent.click(start);
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
  });

  it('an operator backs up, but restores only into restore targets, chosen for it in the dialog', async () => {
    const prod = database({ backups_completed: 1 });
    const staging = database({ id: '01900000-0000-7000-8000-000000000002', name: 'staging', restore_target: true });
    const calls = serve(session('operator'), prod, [staging]);
    renderWithClient(<DatabasePage id={prod.id} />);
    const start = await screen.findByRole('button', { name: 'Back up now' });
    await waitFor(() => expect(screen.queryByRole('link', { name: 'Edit' })).toBeNull());
    expect(start).toBeEnabled();
    const restore = await screen.findByRole('button', { name: 'Restore…' });
    await screen.findByRole('button', { name: 'Pin' });
    expect(restore).toBeEnabled();
    await userEvent.click(restore);
    const dialog = await screen.findByRole('dialog');
    const own = within(dialog).getByRole('option', { name: /orders \(its own database\) \(not a restore target\)/ });
    expect(own).toBeDisabled();
    expect(within(dialog).getByRole('combobox')).toHaveValue(staging.id);
    expect(within(dialog).queryByRole('option', { name: 'A new database…' })).toBeNull();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
  });

  it('an operator with no restore target of the engine is told so', async () => {
    serve(session('operator'), database({ backups_completed: 1 }));
    renderWithClient(<DatabasePage id={database().id} />);
    expect(await screen.findByTestId('restore-denied')).toHaveTextContent(/none of this engine is: ask an admin/);
    expect(screen.getByRole('button', { name: 'Restore…' })).toBeDisabled();
  });

  it('a viewer cannot acknowledge alerts, and is told why', async () => {
    serve(session('viewer'), database());
    renderWithClient(<Alerts />);
    await waitFor(() => expect(screen.getAllByRole('button', { name: 'Acknowledge' })[0]).toBeDisabled());
    for (const ack of screen.getAllByRole('button', { name: 'Acknowledge' })) {
      expect(ack).toBeDisabled();
      expect(ack).toHaveAccessibleDescription('Acknowledging an alert needs the operator role; you are a viewer.');
    }
  });

  it('only unscoped admins get the channel form and the channel actions', async () => {
    serve(session('operator'), database());
    renderWithClient(<Channels />);
    expect(await screen.findByTestId('channels-denied')).toHaveTextContent('Changing alert channels needs the admin role');
    expect(screen.queryByRole('button', { name: 'Send test' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Remove…' })).toBeNull();
  });
});
