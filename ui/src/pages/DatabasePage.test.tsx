import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DatabasePage, VersionItem, runningIdFrom } from './DatabasePage';
import { Dashboard } from './Dashboard';
import { PinToggle } from '../components/PinToggle';
import type { Backup, Database } from '../api';
import { stubFetch } from '../test/fetchStub';
import { backup, database } from '../test/fixtures';
import { renderWithClient } from '../test/render';

const scheduled = (over: Partial<Database> = {}): Database =>
  database({
    schedule: {
      cron: '0 3 * * *', timezone: 'Europe/Berlin', catch_up: 'latest', description: 'At 03:00. (Europe/Berlin)',
      since: '2025-01-01T00:00:00Z', next_run_at: '2099-01-02T02:00:00Z', next_run_at_local: '2099-01-02T03:00:00+01:00',
    },
    paused: false,
    retention: { keep_last: 1 },
    ...over,
  });

describe('Pin toggle', () => {
  it('pins a version and says so with aria-pressed, then unpins it', async () => {
    const calls = stubFetch((c) => {
      if (c.path.endsWith('/pin')) return { status: 200, body: backup({ pinned: true }) };
      if (c.path.endsWith('/unpin')) return { status: 200, body: backup({ pinned: false }) };
      return undefined;
    });
    function Harness() {
      const [b, setB] = useState(backup({ pinned: false }));
      return <PinToggle backup={b} onChanged={setB} />;
    }
    renderWithClient(<Harness />);
    const button = screen.getByRole('button', { name: 'Pin' });
    expect(button).toHaveAttribute('aria-pressed', 'false');
    await userEvent.click(button);
    const on = await screen.findByRole('button', { name: 'Pinned' });
    expect(calls.find((c) => c.method === 'POST')?.path).toBe(`/api/v1/backups/${backup().id}/pin`);
    expect(on).toHaveAttribute('aria-pressed', 'true');
    await userEvent.click(on);
    await waitFor(() => expect(calls.some((c) => c.path === `/api/v1/backups/${backup().id}/unpin`)).toBe(true));
  });

  it('shows pruned and scheduled versions for what they are, without pin or restore', () => {
    const pruned: Backup = backup({
      status: 'pruned', trigger: 'scheduled', slot: '2025-01-02T02:00:00Z', pruned_at: '2025-01-05T00:00:00Z',
      prune_reason: 'not kept by retention policy (keep_last=1)', artifact_deleted: true,
    });
    stubFetch(() => undefined);
    renderWithClient(
      <ol>
        <VersionItem backup={pruned} onRestore={() => {}} />
      </ol>,
    );
    const item = screen.getByTestId('version');
    expect(item).toHaveAttribute('data-status', 'pruned');
    expect(within(item).getByText('Pruned')).toHaveClass('badge-pruned');
    expect(within(item).getByText('Scheduled')).toBeInTheDocument();
    expect(within(item).getByText(/slot/)).toBeInTheDocument();
    expect(screen.getByTestId('prune-note')).toHaveTextContent('not kept by retention policy (keep_last=1)');
    expect(screen.getByTestId('prune-note')).toHaveTextContent('can no longer be restored');
    expect(within(item).queryByRole('button', { name: /Restore/ })).toBeNull();
    expect(within(item).queryByRole('button', { name: /Pin/ })).toBeNull();
  });
});

describe('Database page: schedule, pause, retention, progress', () => {
  it('pauses and resumes the schedule', async () => {
    let db = scheduled();
    const calls = stubFetch((c) => {
      if (c.path.endsWith('/pause')) return { status: 200, body: (db = { ...db, paused: true, schedule: { ...db.schedule!, next_run_at: null, next_run_at_local: null } }) };
      if (c.path.endsWith('/resume')) return { status: 200, body: (db = scheduled()) };
      if (c.path === `/api/v1/databases/${db.id}`) return { status: 200, body: db };
      if (c.path.endsWith('/backups') || c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
      return undefined;
    });
    renderWithClient(<DatabasePage id={db.id} />);
    const summary = await screen.findByTestId('schedule-summary');
    expect(summary).toHaveTextContent('At 03:00. (Europe/Berlin)');
    expect(within(summary).getByText('Active')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Pause schedule' }));
    expect(await screen.findByRole('button', { name: 'Resume schedule' })).toBeInTheDocument();
    expect(within(summary).getByText('Paused')).toBeInTheDocument();
    expect(screen.getByTestId('next-run-at')).toHaveTextContent('none while paused');
    await userEvent.click(screen.getByRole('button', { name: 'Resume schedule' }));
    expect(await screen.findByRole('button', { name: 'Pause schedule' })).toBeInTheDocument();
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.path.split('/').pop())).toEqual(['pause', 'resume']);
  });

  it('previews pruning with reasons and applies it only after confirmation', async () => {
    const db = scheduled();
    const plan = {
      database_id: db.id, policy: 'keep_last=1', kept: 1,
      prune: [{ id: 'old1', finished_at: '2025-01-01T03:00:02Z', bytes: 2048, reason: 'not kept by retention policy (keep_last=1)' }],
    };
    const calls = stubFetch((c) => {
      if (c.path.endsWith('/retention/preview')) return { status: 200, body: plan };
      if (c.path.includes('/retention/prune')) return { status: 200, body: plan };
      if (c.path === `/api/v1/databases/${db.id}`) return { status: 200, body: db };
      if (c.path.endsWith('/backups') || c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
      return undefined;
    });
    renderWithClient(<DatabasePage id={db.id} />);
    expect(await screen.findByTestId('retention-policy')).toHaveTextContent('Keeps the last 1');
    await userEvent.click(screen.getByRole('button', { name: 'Preview pruning' }));
    const item = await screen.findByTestId('prune-item');
    expect(item).toHaveTextContent('not kept by retention policy (keep_last=1)');
    expect(item).toHaveTextContent('2.0 KiB');
    expect(screen.getByTestId('prune-preview')).toHaveTextContent('Would prune 1 version and keep 1');
    expect(calls.some((c) => c.path.includes('/retention/prune'))).toBe(false);

    await userEvent.click(screen.getByRole('button', { name: 'Apply retention now…' }));
    await userEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(calls.some((c) => c.path.includes('/retention/prune'))).toBe(false);
    await userEvent.click(screen.getByRole('button', { name: 'Apply retention now…' }));
    await userEvent.click(screen.getByRole('button', { name: 'Prune 1 version' }));
    expect(await screen.findByText('Pruned 1 version; 1 kept.')).toBeInTheDocument();
    const post = calls.find((c) => c.path.includes('/retention/prune'))!;
    expect(post.method).toBe('POST');
    expect(post.path).toBe(`/api/v1/databases/${db.id}/retention/prune?dry_run=false`);
  });

  it('shows the bytes dumped so far while a backup runs', async () => {
    const db = scheduled({ running_backup_id: 'run1' });
    stubFetch((c) => {
      if (c.path === '/api/v1/backups/run1')
        return { status: 200, body: backup({ id: 'run1', status: 'running', finished_at: null, duration_ms: null, bytes: null, started_at: new Date().toISOString(), progress_bytes: 5 * 1024 * 1024 }) };
      if (c.path === `/api/v1/databases/${db.id}`) return { status: 200, body: db };
      if (c.path.endsWith('/backups') || c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
      return undefined;
    });
    renderWithClient(<DatabasePage id={db.id} />);
    expect(await screen.findByText('5.0 MiB dumped so far')).toBeInTheDocument();
  });

  it('follows the running backup when "Back up now" answers 409 with its id', async () => {
    const db = scheduled();
    const running = '01900000-0000-7000-8000-00000000beef';
    stubFetch((c) => {
      if (c.method === 'POST' && c.path.endsWith('/backups'))
        return { status: 409, body: { title: 'Conflict', status: 409, detail: `a backup of orders is already running: ${running}` } };
      if (c.path === `/api/v1/backups/${running}`)
        return { status: 200, body: backup({ id: running, status: 'running', finished_at: null, started_at: new Date().toISOString(), progress_bytes: 2048 }) };
      if (c.path === `/api/v1/databases/${db.id}`) return { status: 200, body: db };
      if (c.path.endsWith('/backups') || c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
      return undefined;
    });
    renderWithClient(<DatabasePage id={db.id} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Back up now' }));
    expect(await screen.findByText(/was already running; showing its progress/)).toBeInTheDocument();
    expect(await screen.findByText('2.0 KiB dumped so far')).toBeInTheDocument();
    expect(runningIdFrom('nothing here')).toBeNull();
  });
});

describe('Version list badges', () => {
  const FLOAT_WARNING =
    'FLOAT column customers.rating: mariadb-dump writes FLOAT values with 6 significant digits, so values that need more come back rounded (DOUBLE or DECIMAL columns are kept exactly)';

  it('marks versions with warnings (full text in the title), degraded, verified and failed verification', async () => {
    const db = database({ engine: 'mysql' });
    const items: Backup[] = [
      backup({ id: 'v4', warnings: [FLOAT_WARNING, 'FLOAT column customers.weight: same'] }),
      backup({ id: 'v3', warnings: [FLOAT_WARNING], degraded: true }),
      backup({ id: 'v2', verified_at: '2025-01-03T00:00:00Z', verified_ok: true, verification_detail: 'fs:///a: sha256 ok (2048 bytes)' }),
      backup({ id: 'v1', verified_at: '2025-01-03T00:00:00Z', verified_ok: false, verification_detail: 'fs:///a: sha256 mismatch' }),
      backup({ id: 'v0', warnings: [] }),
    ];
    stubFetch((c) => {
      if (c.path === `/api/v1/databases/${db.id}`) return { status: 200, body: db };
      if (c.path === `/api/v1/databases/${db.id}/backups`) return { status: 200, body: { items } };
      if (c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
      return undefined;
    });
    renderWithClient(<DatabasePage id={db.id} />);
    await screen.findAllByTestId('version');
    const row = (id: string) => screen.getAllByTestId('version').find((v) => v.getAttribute('data-backup-id') === id)!;

    const two = within(row('v4')).getByTestId('warnings-badge');
    expect(two).toHaveTextContent('⚠ 2 warnings');
    expect(two).toHaveAttribute('title', `${FLOAT_WARNING}\nFLOAT column customers.weight: same`);
    expect(within(row('v4')).queryByText('Degraded')).toBeNull();

    expect(within(row('v3')).getByTestId('warnings-badge')).toHaveTextContent(/^⚠ 1 warning$/);
    expect(within(row('v3')).getByTestId('warnings-badge')).toHaveAttribute('title', FLOAT_WARNING);
    expect(within(row('v3')).getByTestId('degraded-badge')).toHaveTextContent('Degraded');

    expect(within(row('v2')).getByText('Verified')).toHaveClass('badge-verified');
    expect(within(row('v2')).getByText('Verified')).toHaveAttribute('title', expect.stringContaining('sha256 ok'));
    expect(within(row('v2')).queryByText('Verification failed')).toBeNull();
    expect(within(row('v1')).getByText('Verification failed')).toHaveClass('badge-verify-failed');
    expect(within(row('v1')).queryByText('Verified')).toBeNull();

    expect(within(row('v0')).queryByTestId('warnings-badge')).toBeNull();
    expect(within(row('v0')).queryByText(/Verifi/)).toBeNull();
  });
});

describe('Dashboard next run', () => {
  it('shows when each database runs next, "Paused" or "Manual only"', async () => {
    stubFetch(() => ({
      status: 200,
      body: {
        items: [
          scheduled({ id: 'a', name: 'alpha' }),
          scheduled({ id: 'b', name: 'bravo', paused: true }),
          database({ id: 'c', name: 'charlie' }),
        ],
      },
    }));
    renderWithClient(<Dashboard />);
    const cell = async (name: string) => within(await screen.findByTestId(`db-row-${name}`)).getByTestId('next-run');
    expect(await cell('alpha')).toHaveTextContent(/^in \d+ days$/);
    expect(await cell('bravo')).toHaveTextContent('Paused');
    expect(await cell('charlie')).toHaveTextContent('Manual only');
  });
});
