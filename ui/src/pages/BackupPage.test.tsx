import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { BackupPage } from './BackupPage';
import type { Backup } from '../api';
import { setToken } from '../auth';
import { stubFetch } from '../test/fetchStub';
import { backup } from '../test/fixtures';
import { renderWithClient } from '../test/render';

const FLOAT_WARNING =
  'FLOAT column customers.rating: mariadb-dump writes FLOAT values with 6 significant digits, so values that need more come back rounded (DOUBLE or DECIMAL columns are kept exactly)';

/** Serves one backup (as it is now), its database's restores, and answers /verify with `verify`. */
function serve(get: () => Backup, verify?: () => { status: number; body?: unknown }) {
  return stubFetch((c) => {
    const b = get();
    if (c.method === 'GET' && c.path === `/api/v1/backups/${b.id}`) return { status: 200, body: b };
    if (c.method === 'GET' && c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
    if (c.method === 'POST' && c.path === `/api/v1/backups/${b.id}/verify` && verify) return verify();
    return undefined;
  });
}

describe('Backup page: warnings, copies, encryption, degraded', () => {
  it('lists every warning in full in a warning box and says whether it is encrypted', async () => {
    const b = backup({ engine: 'mysql', encrypted: true, warnings: [FLOAT_WARNING, 'second warning text'] });
    serve(() => b);
    renderWithClient(<BackupPage id={b.id} />);
    const box = await screen.findByTestId('backup-warnings');
    expect(box).toHaveClass('alert-warn');
    expect(box).toHaveTextContent('2 warnings');
    const items = within(box).getAllByRole('listitem').map((li) => li.textContent);
    expect(items).toEqual([FLOAT_WARNING, 'second warning text']);
    const encrypted = screen.getByText('Encrypted').closest('div')!;
    expect(encrypted).toHaveTextContent(/^Encryptedyes$/);
    expect(screen.queryByTestId('degraded-note')).toBeNull();
    expect(screen.queryByTestId('copies')).toBeNull();
  });

  it('shows no warning box for a backup without warnings, and "no" for an unencrypted one', async () => {
    const b = backup({ encrypted: false, warnings: [] });
    serve(() => b);
    renderWithClient(<BackupPage id={b.id} />);
    const encrypted = (await screen.findByText('Encrypted')).closest('div')!;
    expect(encrypted).toHaveTextContent(/^Encryptedno$/);
    expect(screen.queryByTestId('backup-warnings')).toBeNull();
    // The version is named by its database and time (with its zone), not by an id.
    expect(screen.getByRole('navigation', { name: 'Breadcrumb' })).toHaveTextContent(`orders / version of 2025-01-02 03:04:05 UTC`);
  });

  it('shows each copy with its outcome and the failed one’s error, and a degraded notice', async () => {
    const b = backup({
      degraded: true,
      copies: [
        { name: 'default', storage: 'fs:///var/lib/backline/artifacts', key: 'orders/a.pgdump.zst', sha256: 'ab'.repeat(32), ok: true },
        { name: 'offsite', storage: 's3://backups-eu/backline', key: 'orders/a.pgdump.zst', sha256: '', ok: false, error: 'PUT failed: 403 AccessDenied' },
      ],
    });
    serve(() => b);
    renderWithClient(<BackupPage id={b.id} />);
    const note = await screen.findByTestId('degraded-note');
    expect(note).toHaveTextContent('Degraded');
    expect(note).toHaveTextContent('offsite did not get its copy');
    const rows = within(screen.getByTestId('copies')).getAllByTestId('copy');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent('default');
    expect(rows[0]).toHaveTextContent('fs:///var/lib/backline/artifacts');
    expect(rows[0]).toHaveTextContent('✓ stored');
    expect(rows[1]).toHaveAttribute('data-ok', 'false');
    expect(rows[1]).toHaveTextContent('s3://backups-eu/backline');
    expect(rows[1]).toHaveTextContent('✗ failed');
    expect(rows[1]).toHaveTextContent('PUT failed: 403 AccessDenied');
  });

  it('shows why a pruned version’s files are still there, and offers no "Verify now"', async () => {
    const b = backup({
      status: 'pruned', pruned_at: '2025-01-05T00:00:00Z', prune_reason: 'not kept by retention policy (keep_last=1)',
      artifact_deleted: false, deletion_error: 'deleting orders/a.pgdump.zst: permission denied',
    });
    serve(() => b);
    renderWithClient(<BackupPage id={b.id} />);
    expect(await screen.findByTestId('deletion-error')).toHaveTextContent('deleting orders/a.pgdump.zst: permission denied');
    expect(screen.queryByRole('button', { name: 'Verify now' })).toBeNull();
  });
});

describe('Backup page: Verify now', () => {
  it('POSTs /verify with the token, shows a passed check and refetches the backup', async () => {
    setToken('tok-v');
    let b = backup({ verified_at: null, verified_ok: null, verification_detail: null });
    const detail = 'fs:///data/artifacts: sha256 ok (2048 bytes); decompressed to 10240 bytes';
    const calls = serve(
      () => b,
      () => {
        b = { ...b, verified_at: '2025-02-03T04:05:06Z', verified_ok: true, verification_detail: detail };
        return { status: 200, body: { backup_id: b.id, ok: true, detail } };
      },
    );
    renderWithClient(<BackupPage id={b.id} />);
    const panel = await screen.findByTestId('verification');
    expect(panel).toHaveTextContent('Never verified');
    await userEvent.click(within(panel).getByRole('button', { name: 'Verify now' }));

    const result = within(panel).getByTestId('verification-result');
    await waitFor(() => expect(result).toHaveTextContent('Verified'));
    expect(result).toHaveTextContent(detail);
    expect(result).not.toHaveTextContent('Verification failed');
    expect(panel).toHaveAttribute('data-state', 'ok');
    // The refetched backup's verified_at is what the panel shows as "when".
    await waitFor(() => expect(within(result).getByRole('time')).toHaveAttribute('dateTime', '2025-02-03T04:05:06Z'));

    const post = calls.filter((c) => c.method === 'POST');
    expect(post).toHaveLength(1);
    expect(post[0]!.path).toBe(`/api/v1/backups/${b.id}/verify`);
    expect(post[0]!.body).toEqual({});
    expect(post[0]!.headers.Authorization).toBe('Bearer tok-v');
    expect(post[0]!.headers['Content-Type']).toBe('application/json');
    const gets = calls.filter((c) => c.method === 'GET' && c.path === `/api/v1/backups/${b.id}`);
    expect(calls.indexOf(gets.at(-1)!)).toBeGreaterThan(calls.indexOf(post[0]!));
  });

  it('shows a failed check (200 with ok: false) as a failure with its detail', async () => {
    const b = backup();
    const detail = 'fs:///data/artifacts: sha256 mismatch: recorded abab, stored object has cdcd (2048 bytes)';
    serve(
      () => b,
      () => ({ status: 200, body: { backup_id: b.id, ok: false, detail } }),
    );
    renderWithClient(<BackupPage id={b.id} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Verify now' }));
    const result = screen.getByTestId('verification-result');
    await waitFor(() => expect(result).toHaveTextContent('Verification failed'));
    expect(result).toHaveTextContent(detail);
    expect(screen.getByTestId('verification')).toHaveAttribute('data-state', 'failed');
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('shows the last recorded verification before anyone presses the button', async () => {
    const b = backup({ verified_at: '2025-01-09T08:00:00Z', verified_ok: false, verification_detail: 'offsite: object not found' });
    serve(() => b);
    renderWithClient(<BackupPage id={b.id} />);
    const result = await screen.findByTestId('verification-result');
    expect(result).toHaveTextContent('Verification failed');
    expect(result).toHaveTextContent('offsite: object not found');
    expect(within(result).getByRole('time')).toHaveAttribute('dateTime', '2025-01-09T08:00:00Z');
  });

  it('shows a 409 problem’s detail with the error message', async () => {
    const b = backup();
    serve(
      () => b,
      () => ({
        status: 409,
        body: { type: 'about:blank', title: 'Conflict', status: 409, detail: `backup ${b.id} is Pruned: only completed versions with their files can be verified` },
      }),
    );
    renderWithClient(<BackupPage id={b.id} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Verify now' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Conflict');
    expect(alert).toHaveTextContent('only completed versions with their files can be verified');
    expect(screen.getByTestId('verification-result')).toHaveTextContent('Never verified');
  });
});
