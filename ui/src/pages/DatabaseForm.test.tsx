import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DatabaseFormFields } from './DatabaseForm';
import { stubFetch } from '../test/fetchStub';
import { database } from '../test/fixtures';
import { renderWithClient } from '../test/render';

async function fill(name: string, url: string, password = '') {
  await userEvent.type(screen.getByLabelText('Name'), name);
  await userEvent.type(screen.getByLabelText('Connection URL (without password)'), url);
  if (password) await userEvent.type(screen.getByLabelText('Password'), password);
}

describe('Add database form', () => {
  it('shows every API field error next to its field, and no banner for them', async () => {
    stubFetch((c) =>
      c.path === '/api/v1/databases' && c.method === 'POST'
        ? {
            status: 422,
            body: {
              type: 'about:blank', title: 'Invalid request', status: 422, detail: '2 fields are invalid',
              errors: [
                { field: 'name', message: 'must start with a letter or digit' },
                { field: 'connection', message: 'port must be a number' },
              ],
            },
          }
        : undefined,
    );
    renderWithClient(<DatabaseFormFields />);
    await fill('orders', 'postgres://u@h:x/db');
    await userEvent.click(screen.getByRole('button', { name: 'Add database' }));
    const name = screen.getByLabelText('Name');
    expect(await screen.findByText('must start with a letter or digit')).toBeInTheDocument();
    expect(name).toHaveAttribute('aria-invalid', 'true');
    expect(name).toHaveAccessibleDescription('must start with a letter or digit');
    expect(screen.getByLabelText('Connection URL (without password)')).toHaveAccessibleDescription('port must be a number');
    // Each beside its field: nothing repeated at the top or bottom, and the focus is on the first.
    expect(screen.queryByRole('alert')).toBeNull();
    await waitFor(() => expect(name).toHaveFocus());
  });

  it('shows a 409 name conflict (no errors array) beside the name, not at the bottom', async () => {
    stubFetch(() => ({
      status: 409,
      body: { type: 'about:blank', title: 'Conflict', status: 409, detail: 'a database named "orders" is already registered' },
    }));
    renderWithClient(<DatabaseFormFields />);
    await fill('orders', 'postgres://u@h/db');
    await userEvent.click(screen.getByRole('button', { name: 'Add database' }));
    const name = screen.getByLabelText('Name');
    await waitFor(() => expect(name).toHaveAccessibleDescription('a database named "orders" is already registered'));
    expect(name).toHaveAttribute('aria-invalid', 'true');
    expect(name).toHaveFocus();
    expect(screen.queryByRole('alert')).toBeNull();
    // Editing the name clears it.
    await userEvent.type(name, '2');
    expect(name).not.toHaveAttribute('aria-invalid');
  });

  it('shows every problem it can see at once, each beside its field, without asking the server', async () => {
    const calls = stubFetch(() => undefined);
    renderWithClient(<DatabaseFormFields />);
    await fill('bad name!', 'mysql://u@h/db');
    await userEvent.clear(screen.getByLabelText('Keep last'));
    await userEvent.type(screen.getByLabelText('Keep last'), '-1');
    await userEvent.click(screen.getByRole('button', { name: 'Add database' }));
    const name = screen.getByLabelText('Name');
    expect(name).toHaveAccessibleDescription(/may only contain letters, digits/);
    expect(screen.getByLabelText('Connection URL (without password)')).toHaveAccessibleDescription(/starts with postgres:\/\/ or postgresql:\/\//);
    expect(screen.getByLabelText('Keep last')).toHaveAccessibleDescription('must not be negative');
    expect(name).toHaveFocus();
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(0);
    // Fixing one leaves the others.
    await userEvent.clear(name);
    await userEvent.type(name, 'orders');
    expect(name).not.toHaveAttribute('aria-invalid');
    expect(screen.getByLabelText('Connection URL (without password)')).toHaveAttribute('aria-invalid', 'true');
  });

  it('keeps a general error, at the top, for a failure that names no field', async () => {
    stubFetch(() => ({ status: 500, body: { title: 'Internal Server Error', status: 500, detail: 'internal error (request 7f3a)' } }));
    renderWithClient(<DatabaseFormFields />);
    await fill('orders', 'postgres://u@h/db');
    await userEvent.click(screen.getByRole('button', { name: 'Add database' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('internal error (request 7f3a)');
    const form = screen.getByRole('form', { name: 'Add database' });
    expect(form.firstElementChild).toBe(screen.getByTestId('form-error'));
    await waitFor(() => expect(screen.getByTestId('form-error')).toHaveFocus());
    expect(screen.getByLabelText('Name')).not.toHaveAttribute('aria-invalid');
  });

  it('tests the connection with the password composed in, and shows the server version', async () => {
    const calls = stubFetch((c) =>
      c.path === '/api/v1/databases/test' ? { status: 200, body: { ok: true, server_version: '15.20', message: 'connected' } } : undefined,
    );
    renderWithClient(<DatabaseFormFields />);
    await fill('orders', 'postgres://app@db:5432/orders', 'p@ss');
    await userEvent.click(screen.getByRole('button', { name: 'Test connection' }));
    expect(await screen.findByText(/Connected — server version 15.20/)).toBeInTheDocument();
    expect(calls[0]!.body).toEqual({ engine: 'postgres', connection: 'postgres://app:p%40ss@db:5432/orders' });
    expect(screen.getByLabelText('Password')).toHaveAttribute('type', 'password');
  });

  it('names each privilege a backup needs that the user lacks, instead of just Connected', async () => {
    stubFetch((c) =>
      c.path === '/api/v1/databases/test'
        ? {
            status: 200,
            body: {
              ok: true,
              ready: false,
              server_version: '15.20',
              message: 'connected, but …',
              missing: [
                { privilege: 'SELECT', object: 'public.orders', effect: 'pg_dump locks and copies it and stops' },
                { privilege: 'USAGE', object: 'schema billing', effect: 'pg_dump stops' },
              ],
              missing_total: 3,
            },
          }
        : undefined,
    );
    renderWithClient(<DatabaseFormFields />);
    await fill('orders', 'postgres://app@db:5432/orders', 'pw');
    await userEvent.click(screen.getByRole('button', { name: 'Test connection' }));
    const box = await screen.findByTestId('missing-privileges');
    expect(box).toHaveTextContent('public.orders');
    expect(box).toHaveTextContent('schema billing');
    expect(box).toHaveTextContent('and 1 more');
    expect(screen.queryByText(/✓ Connected/)).not.toBeInTheDocument();
  });

  it('shows the exact error of a failed connection test', async () => {
    const msg = 'connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "nope" does not exist';
    stubFetch(() => ({ status: 200, body: { ok: false, server_version: null, message: msg } }));
    renderWithClient(<DatabaseFormFields />);
    await fill('x', 'postgres://app@127.0.0.1:5432/nope');
    await userEvent.click(screen.getByRole('button', { name: 'Test connection' }));
    await screen.findByText(/Connection failed/);
    // Exactly as the server said it, whitespace included.
    expect(screen.getByTestId('test-result').textContent).toContain(msg);
  });

  it('moves a password pasted into the URL into the masked field', async () => {
    renderWithClient(<DatabaseFormFields />);
    const url = screen.getByLabelText('Connection URL (without password)');
    await userEvent.type(url, 'mysql://root:hunter2@db/app');
    await userEvent.tab();
    expect(url).toHaveValue('mysql://root@db/app');
    expect(screen.getByLabelText('Password')).toHaveValue('hunter2');
  });
});

describe('Edit database form', () => {
  it('sends only the changed name and keeps the saved connection', async () => {
    const db = database();
    const calls = stubFetch((c) => (c.method === 'PATCH' ? { status: 200, body: { ...db, name: 'orders2' } } : undefined));
    renderWithClient(<DatabaseFormFields existing={db} />);
    expect(screen.getByLabelText('Connection URL (without password)')).toHaveValue('postgres://app@db:5432/orders');
    expect(screen.getByLabelText('Engine')).toBeDisabled();
    await userEvent.type(screen.getByLabelText('Name'), '2');
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'PATCH')).toBe(true));
    const patch = calls.find((c) => c.method === 'PATCH');
    expect(patch?.path).toBe(`/api/v1/databases/${db.id}`);
    expect(patch?.body).toEqual({ name: 'orders2' });
  });
});

describe('Parallel jobs (PostgreSQL)', () => {
  const BACKUP = 'Backup processes (pg_dump on one snapshot)';
  const RESTORE = 'Restore jobs (pg_restore --jobs)';

  it('offers them for PostgreSQL only, and sends them on adding only for PostgreSQL', async () => {
    const calls = stubFetch((c) => (c.method === 'POST' ? { status: 201, body: database() } : undefined));
    renderWithClient(<DatabaseFormFields />);
    await fill('orders', 'postgres://app@db/orders');
    await userEvent.click(screen.getByText('Parallel jobs'));
    expect(screen.getByLabelText(BACKUP)).toHaveValue('1');
    expect(screen.getByLabelText(RESTORE)).toHaveAccessibleDescription(/Empty: the default, min\(4, cores/);
    await userEvent.clear(screen.getByLabelText(BACKUP));
    await userEvent.type(screen.getByLabelText(BACKUP), '4');
    await userEvent.selectOptions(screen.getByLabelText('Engine'), 'mysql');
    expect(screen.queryByLabelText(BACKUP)).toBeNull();
    expect(screen.queryByLabelText(RESTORE)).toBeNull();
    expect(screen.queryByText('Parallel jobs')).toBeNull();
    await userEvent.clear(screen.getByLabelText('Connection URL (without password)'));
    await userEvent.type(screen.getByLabelText('Connection URL (without password)'), 'mysql://app@db/orders');
    await userEvent.click(screen.getByRole('button', { name: 'Add database' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ name: 'orders', engine: 'mysql', connection: 'mysql://app@db/orders' });
  });

  it('sends the backup processes on adding a PostgreSQL database, and leaves restore jobs to the default', async () => {
    const calls = stubFetch((c) => (c.method === 'POST' ? { status: 201, body: database({ backup_jobs: 4 }) } : undefined));
    renderWithClient(<DatabaseFormFields />);
    await fill('orders', 'postgres://app@db/orders');
    await userEvent.click(screen.getByText('Parallel jobs'));
    await userEvent.clear(screen.getByLabelText(BACKUP));
    await userEvent.type(screen.getByLabelText(BACKUP), '4');
    await userEvent.click(screen.getByRole('button', { name: 'Add database' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      name: 'orders', engine: 'postgres', connection: 'postgres://app@db/orders', backup_jobs: 4,
    });
  });

  it.each([
    ['backup processes', BACKUP, '2', { backup_jobs: 2 }],
    ['restore jobs', RESTORE, '1', { restore_jobs: 1 }],
  ])('sends only the changed %s on editing', async (_what, label, typed, expected) => {
    const db = database({ backup_jobs: 1, restore_jobs: null });
    const calls = stubFetch((c) => (c.method === 'PATCH' ? { status: 200, body: { ...db, ...expected } } : undefined));
    renderWithClient(<DatabaseFormFields existing={db} />);
    await userEvent.click(screen.getByText('Parallel jobs'));
    await userEvent.clear(screen.getByLabelText(label));
    await userEvent.type(screen.getByLabelText(label), typed);
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'PATCH')).toBe(true));
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual(expected);
  });

  it('refuses out-of-range values beside their fields, unfolded and focused, without a request', async () => {
    const db = database({ backup_jobs: 1, restore_jobs: null });
    const calls = stubFetch(() => undefined);
    renderWithClient(<DatabaseFormFields existing={db} />);
    await userEvent.click(screen.getByText('Parallel jobs'));
    await userEvent.clear(screen.getByLabelText(BACKUP));
    await userEvent.type(screen.getByLabelText(BACKUP), '17');
    await userEvent.type(screen.getByLabelText(RESTORE), '0');
    // Folded again: saving unfolds it to show why.
    await userEvent.click(screen.getByText('Parallel jobs'));
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    const backup = screen.getByLabelText(BACKUP);
    expect(backup).toHaveAttribute('aria-invalid', 'true');
    expect(backup).toHaveAccessibleDescription('must be a whole number from 1 to 16');
    expect(screen.getByLabelText(RESTORE)).toHaveAccessibleDescription('must be a whole number from 1 to 16');
    expect(backup).toHaveFocus();
    expect(backup.closest('details')).toHaveAttribute('open');
    expect(calls.filter((c) => c.method === 'PATCH')).toHaveLength(0);
    // Fixing one leaves the other.
    await userEvent.clear(backup);
    await userEvent.type(backup, '16');
    expect(backup).not.toHaveAttribute('aria-invalid');
    expect(screen.getByLabelText(RESTORE)).toHaveAttribute('aria-invalid', 'true');
  });

  it('opens with the saved values, and will not empty saved restore jobs', async () => {
    const db = database({ backup_jobs: 3, restore_jobs: 2 });
    const calls = stubFetch(() => undefined);
    renderWithClient(<DatabaseFormFields existing={db} />);
    expect(screen.getByText('Parallel jobs').closest('details')).toHaveAttribute('open');
    expect(screen.getByLabelText(BACKUP)).toHaveValue('3');
    expect(screen.getByLabelText(RESTORE)).toHaveValue('2');
    await userEvent.clear(screen.getByLabelText(RESTORE));
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    expect(screen.getByLabelText(RESTORE)).toHaveAccessibleDescription(/cannot be emptied once set/);
    expect(calls.filter((c) => c.method === 'PATCH')).toHaveLength(0);
  });

  it("shows the server's refusal beside the field, not as a general error", async () => {
    const db = database({ backup_jobs: 1, restore_jobs: null });
    stubFetch((c) =>
      c.method === 'PATCH'
        ? {
            status: 422,
            body: {
              type: 'about:blank', title: 'Invalid request', status: 422, detail: 'restore_jobs must be between 1 and 16, not 99',
              errors: [{ field: 'restore_jobs', message: 'restore_jobs must be between 1 and 16, not 99' }],
            },
          }
        : undefined,
    );
    renderWithClient(<DatabaseFormFields existing={db} />);
    await userEvent.click(screen.getByText('Parallel jobs'));
    await userEvent.type(screen.getByLabelText(RESTORE), '3');
    await userEvent.click(screen.getByText('Parallel jobs'));
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    const restore = screen.getByLabelText(RESTORE);
    await waitFor(() => expect(restore).toHaveAccessibleDescription('restore_jobs must be between 1 and 16, not 99'));
    await waitFor(() => expect(restore).toHaveFocus());
    expect(restore.closest('details')).toHaveAttribute('open');
    expect(screen.queryByTestId('form-error')).toBeNull();
  });
});
