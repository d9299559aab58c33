import { describe, expect, it } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { ArchiveStatus, RecoveryWindow } from '../api';
import { insideWindow, isoToLocalInput, latestRestorable, localInputToIso } from '../pitr';
import { stubFetch } from '../test/fetchStub';
import { database } from '../test/fixtures';
import { renderWithClient } from '../test/render';
import { RecoveryPanel } from './RecoveryPanel';

const db = database();
const other = database({ id: '01900000-0000-7000-8000-000000000002', name: 'orders_copy' });

function archive(over: Partial<ArchiveStatus> = {}): ArchiveStatus {
  return {
    database_id: db.id, archive_id: db.id, databases: [db.id], enabled: true, server: 'db:5432',
    slot: 'backline_x', server_major: 15, base_backup_schedule: '0 3 * * *', keep_base_backups: 7,
    keep_days: null, segments: 12, newest_segment: '00000001000000000000000C', ...over,
  };
}

const window: RecoveryWindow = {
  intervals: [
    { from: '2026-11-30T10:00:00Z', to: '2026-11-30T11:00:00Z' },
    { from: '2026-11-30T12:00:00Z', to: '2026-11-30T12:30:00Z' },
  ],
  gaps: [{ missing_segment: '000000010000000000000007', after: '2026-11-30T11:00:00Z' }],
};

describe('point-in-time helpers', () => {
  it('converts the local input both ways and checks the window', () => {
    expect(localInputToIso('2026-11-30T10:30:05')).toBe('2026-11-30T10:30:05Z');
    expect(isoToLocalInput('2026-11-30T10:30:05Z')).toBe('2026-11-30T10:30:05');
    expect(localInputToIso('2026-11-30T10:30:05.000')).toBe('2026-11-30T10:30:05Z');
    expect(localInputToIso('2026-11-30T10:30')).toBe('2026-11-30T10:30:00Z');
    expect(localInputToIso('yesterday')).toBeNull();
    expect(insideWindow('2026-11-30T10:30:05Z', window.intervals)).toBe(true);
    expect(insideWindow('2026-11-30T11:30:00Z', window.intervals)).toBe(false);
    expect(latestRestorable(window.intervals)).toBe('2026-11-30T12:30:00Z');
    expect(latestRestorable([])).toBeNull();
  });
});

describe('Recovery panel', () => {
  it('enables archiving with a schedule and retention', async () => {
    let state = archive({ enabled: false, server: null, slot: null, segments: 0, newest_segment: null, base_backup_schedule: null, keep_base_backups: null });
    const calls = stubFetch((c) => {
      if (c.path.endsWith('/archiving') && c.method === 'POST') return { status: 200, body: (state = archive()) };
      if (c.path.endsWith('/archiving')) return { status: 200, body: state };
      if (c.path.endsWith('/recovery-window')) return { status: 200, body: { intervals: [], gaps: [] } };
      return undefined;
    });
    renderWithClient(<RecoveryPanel db={db} />);
    expect(await screen.findByTestId('archiving-state')).toHaveTextContent('WAL archiving is off');
    await userEvent.type(screen.getByLabelText(/Base-backup schedule/), '0 3 * * *');
    await userEvent.type(screen.getByLabelText(/Keep base backups/), '7');
    await userEvent.click(screen.getByRole('button', { name: 'Enable WAL archiving' }));
    await waitFor(() => expect(screen.getByTestId('archiving-state')).toHaveTextContent('WAL archiving is on for db:5432'));
    const post = calls.find((c) => c.method === 'POST');
    expect(post?.path).toBe(`/api/v1/databases/${db.id}/archiving`);
    expect(post?.body).toEqual({ base_backup_schedule: '0 3 * * *', keep_base_backups: 7 });
    expect(await screen.findByTestId('window-empty')).toBeInTheDocument();
  }, 30_000);

  it('refuses a retention that is not a positive number', async () => {
    stubFetch((c) => {
      if (c.path.endsWith('/archiving')) return { status: 200, body: archive({ enabled: false, server: null }) };
      return undefined;
    });
    renderWithClient(<RecoveryPanel db={db} />);
    await userEvent.clear(await screen.findByLabelText(/Keep base backups/));
    await userEvent.type(screen.getByLabelText(/Keep base backups/), '0');
    expect(screen.getByRole('button', { name: 'Enable WAL archiving' })).toBeDisabled();
  }, 30_000);

  it('shows the window with its gap and takes a base backup now', async () => {
    let polled = 0;
    const calls = stubFetch((c) => {
      if (c.path.endsWith('/archiving')) return { status: 200, body: archive() };
      if (c.path.endsWith('/recovery-window')) return { status: 200, body: window };
      if (c.path.endsWith('/base-backups') && c.method === 'POST') return { status: 202, body: { id: 'bb1' } };
      if (c.path === '/api/v1/base-backups/bb1') {
        polled += 1;
        return {
          status: 200,
          body: { id: 'bb1', database_id: db.id, status: polled > 1 ? 'completed' : 'running', trigger: 'manual',
            start_lsn: '0/5000028', stop_lsn: '0/5000100', started_at: null, stopped_at: null, bytes: 1, duration_ms: 1, error: null },
        };
      }
      return undefined;
    });
    renderWithClient(<RecoveryPanel db={db} />);
    const intervals = await screen.findAllByTestId('interval', {}, { timeout: 5000 });
    expect(intervals).toHaveLength(2);
    expect(screen.getByTestId('gap')).toHaveTextContent('000000010000000000000007');
    await userEvent.click(screen.getByRole('button', { name: 'Take base backup now' }));
    expect(await screen.findByTestId('base-backup-result', {}, { timeout: 4000 })).toHaveTextContent(
      'Base backup completed (0/5000028 to 0/5000100)',
    );
    expect(calls.some((c) => c.method === 'POST' && c.path === `/api/v1/databases/${db.id}/base-backups`)).toBe(true);
  }, 30_000);

  it('disables archiving', async () => {
    let state = archive();
    const calls = stubFetch((c) => {
      if (c.path.endsWith('/archiving') && c.method === 'DELETE') return { status: 200, body: (state = archive({ enabled: false })) };
      if (c.path.endsWith('/archiving')) return { status: 200, body: state };
      if (c.path.endsWith('/recovery-window')) return { status: 200, body: window };
      return undefined;
    });
    renderWithClient(<RecoveryPanel db={db} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Disable archiving' }, { timeout: 5000 }));
    await waitFor(() => expect(screen.getByTestId('archiving-state')).toHaveTextContent('WAL archiving is off'));
    expect(calls.some((c) => c.method === 'DELETE')).toBe(true);
  });

  it('restores to a second inside the window into another database, after its name is typed', async () => {
    const calls = stubFetch((c) => {
      if (c.path.endsWith('/archiving')) return { status: 200, body: archive() };
      if (c.path.endsWith('/recovery-window')) return { status: 200, body: window };
      if (c.path.startsWith('/api/v1/databases?') || c.path === '/api/v1/databases') return { status: 200, body: { items: [db, other] } };
      if (c.path.endsWith('/restore-pitr')) return { status: 202, body: { id: 'r1' } };
      if (c.path === '/api/v1/restores/r1')
        return {
          status: 200,
          body: { id: 'r1', backup_id: 'bb1', source_database_id: db.id, target_database_id: other.id, target_database_name: other.name,
            engine: 'postgres', status: 'running', actor: 'admin', started_at: '2026-11-30T13:00:00Z', finished_at: null,
            duration_ms: null, previous_kept_as: null, error: null, step: 'replaying' },
        };
      return undefined;
    });
    renderWithClient(<RecoveryPanel db={db} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Restore to a point in time…' }, { timeout: 5000 }));
    const dialog = screen.getByRole('dialog', { name: 'Restore to a point in time' });
    const when = within(dialog).getByLabelText(/Restore to/);
    // Defaults to the newest restorable second.
    expect((when as HTMLInputElement).value).toMatch(/^2026-11-30T12:30(:00)?$/);
    // A second in the gap is refused before anything is sent.
    fireEvent.change(when, { target: { value: '2026-11-30T11:30:00' } });
    expect(within(dialog).getByTestId('pitr-when-hint')).toHaveTextContent('Choose a second inside the recoverable window');
    await userEvent.selectOptions(await within(dialog).findByLabelText('Restore into'), other.id);
    await userEvent.type(within(dialog).getByLabelText(/type the target database's name/), other.name);
    expect(within(dialog).getByRole('button', { name: /^Restore/ })).toBeDisabled();
    fireEvent.change(when, { target: { value: '2026-11-30T10:30:05' } });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Restore' }));
    expect(await within(dialog).findByTestId('pitr-step')).toHaveTextContent('replaying');
    const post = calls.find((c) => c.path.endsWith('/restore-pitr'));
    expect(post?.body).toEqual({ target_time: '2026-11-30T10:30:05Z', target_database_id: other.id });
  }, 30_000);

  it('writes the whole cluster to a directory instead, for admins', async () => {
    const calls = stubFetch((c) => {
      if (c.path.endsWith('/archiving')) return { status: 200, body: archive() };
      if (c.path.endsWith('/recovery-window')) return { status: 200, body: window };
      if (c.path.startsWith('/api/v1/databases?') || c.path === '/api/v1/databases') return { status: 200, body: { items: [db] } };
      if (c.path.endsWith('/restore-pitr')) return { status: 422, body: { title: 'Unprocessable', status: 422, detail: '/srv/x is not empty' } };
      return undefined;
    });
    renderWithClient(<RecoveryPanel db={db} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Restore to a point in time…' }, { timeout: 5000 }));
    const dialog = screen.getByRole('dialog', { name: 'Restore to a point in time' });
    await userEvent.click(within(dialog).getByTestId('whole-cluster'));
    const write = within(dialog).getByRole('button', { name: 'Write the cluster' });
    await userEvent.type(within(dialog).getByLabelText('New, empty directory'), 'relative/x');
    expect(write).toBeDisabled();
    await userEvent.clear(within(dialog).getByLabelText('New, empty directory'));
    await userEvent.type(within(dialog).getByLabelText('New, empty directory'), '/srv/x');
    await userEvent.click(write);
    expect(await within(dialog).findByText(/is not empty/)).toBeInTheDocument();
    const post = calls.find((c) => c.path.endsWith('/restore-pitr'));
    expect(post?.body).toEqual({ target_time: '2026-11-30T12:30:00Z', cluster_path: '/srv/x' });
  }, 30_000);

  it('is not shown for a database whose archiving state cannot be read, beyond a note', async () => {
    stubFetch(() => ({ status: 403, body: { title: 'Forbidden', status: 403, detail: 'viewer' } }));
    renderWithClient(<RecoveryPanel db={db} />);
    expect(await screen.findByText(/archiving state could not be read/)).toBeInTheDocument();
  });
});
