import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DatabasePage, restoreCounts, runningIdFrom } from './DatabasePage';
import { VersionRow, VersionsTable } from '../components/VersionsTable';
import { Dashboard } from './Dashboard';
import { PinToggle } from '../components/PinToggle';
import type { Backup, Database, Drill, Restore } from '../api';
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
      <table>
        <tbody>
          <VersionRow backup={pruned} onRestore={() => {}} />
        </tbody>
      </table>,
    );
    const item = screen.getByTestId('version');
    expect(item).toHaveAttribute('data-status', 'pruned');
    expect(within(item).getByText('Pruned')).toHaveClass('badge-pruned');
    expect(within(item).getByText(/^Scheduled \(slot 2025-01-02 02:00 UTC\)$/)).toBeInTheDocument();
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
      if (/\/backups(\?|$)/.test(c.path) || c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
      return undefined;
    });
    renderWithClient(<DatabasePage id={db.id} />);
    const summary = await screen.findByTestId('schedule-summary');
    expect(summary).toHaveTextContent('Every day at 03:00 (Europe/Berlin)');
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
      if (/\/backups(\?|$)/.test(c.path) || c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
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
      if (/\/backups(\?|$)/.test(c.path) || c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
      return undefined;
    });
    renderWithClient(<DatabasePage id={db.id} />);
    expect(await screen.findByText('5.0 MiB dumped so far')).toBeInTheDocument();
  });

  it('shows a bar with the percentage and ETA, and a Cancel button, while a backup runs', async () => {
    const db = scheduled({ running_backup_id: 'run2' });
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/backups/run2')
        return {
          status: 200,
          body: backup({
            id: 'run2',
            status: 'running',
            finished_at: null,
            duration_ms: null,
            bytes: null,
            started_at: new Date().toISOString(),
            progress: { phase: 'dump', bytes: 5 * 1024 * 1024, expected_bytes: 20 * 1024 * 1024, percent: 25, eta_seconds: 30 },
          }),
        };
      if (c.path === '/api/v1/backups/run2/cancel') return { status: 202, body: { id: 'run2' } };
      if (c.path === `/api/v1/databases/${db.id}`) return { status: 200, body: db };
      if (c.path.endsWith('/backups') || c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
      return undefined;
    });
    renderWithClient(<DatabasePage id={db.id} />);
    const bar = await screen.findByRole('progressbar');
    expect(bar).toHaveAttribute('aria-valuenow', '25');
    expect(screen.getByTestId('progress-bytes')).toHaveTextContent(/5\.0 MiB dumped so far/);
    expect(screen.getByTestId('progress-bytes')).toHaveTextContent(/\(25%\)/);
    expect(screen.getByTestId('progress-bytes')).toHaveTextContent(/left$/);
    await userEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(await screen.findByText('Stopping…')).toBeInTheDocument();
    expect(calls.some((c) => c.method === 'POST' && c.path === '/api/v1/backups/run2/cancel')).toBe(true);
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
      if (/\/backups(\?|$)/.test(c.path) || c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
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
      if (c.path.startsWith(`/api/v1/databases/${db.id}/backups?`)) return { status: 200, body: { items } };
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

describe('Versions table', () => {
  const many = (n: number): Backup[] =>
    Array.from({ length: n }, (_, i) =>
      backup({
        id: `01900000-0000-7000-8000-${String(1000 + i).padStart(12, '0')}`,
        started_at: new Date(Date.UTC(2025, 0, 31, 12, 0, 0) - i * 3_600_000).toISOString(),
        tool_version: 'pg_dump (PostgreSQL) 17.6 (Debian 17.6-1.pgdg120+1) with a very long build string',
      }),
    );

  it('shows one compact row per version: status, time with its zone, size, duration, verification, actions', () => {
    stubFetch(() => undefined);
    const restored: Backup[] = [];
    renderWithClient(<VersionsTable backups={many(1)} onRestore={(b) => restored.push(b)} />);
    const table = screen.getByTestId('versions');
    const headers = within(table).getAllByRole('columnheader').map((h) => h.textContent);
    expect(headers).toEqual(['Status', 'Time', 'Size', 'Duration', 'Verification', 'Actions']);
    const row = screen.getByTestId('version');
    expect(within(row).getByRole('rowheader')).toHaveTextContent('2025-01-31 12:00:00 UTC');
    expect(row).toHaveTextContent('2.0 KiB');
    expect(row).toHaveTextContent('2.0 s');
    expect(row).toHaveTextContent('Not verified');
    // The tool version and the rest are on the details page, not in the row.
    expect(row).not.toHaveTextContent('pg_dump');
    expect(row).not.toHaveTextContent('SHA-256');
    const details = within(row).getByRole('link', { name: 'Details' });
    expect(details).toHaveAttribute('href', `/backups/${many(1)[0]!.id}`);
    expect(within(row).getByRole('button', { name: 'Restore…' })).toHaveAccessibleDescription(/2025-01-31 12:00:00 UTC/);
    expect(within(row).getByRole('button', { name: 'Pin' })).toBeInTheDocument();
    // Signed in by session cookie: the browser streams the download itself.
    expect(within(row).getByRole('link', { name: 'Download' })).toHaveAttribute(
      'href',
      `/api/v1/backups/${many(1)[0]!.id}/download`,
    );
  });

  it('pages through many versions, newest first', async () => {
    stubFetch(() => undefined);
    renderWithClient(<VersionsTable backups={many(23)} />);
    const pager = screen.getByTestId('versions-pager');
    expect(screen.getAllByTestId('version')).toHaveLength(10);
    expect(pager).toHaveTextContent('1–10 of 23 versions');
    expect(within(pager).getByRole('button', { name: /Newer/ })).toBeDisabled();
    await userEvent.click(within(pager).getByRole('button', { name: /Older/ }));
    expect(pager).toHaveTextContent('11–20 of 23 versions');
    expect(screen.getAllByTestId('version')[0]).toHaveAttribute('data-backup-id', many(23)[10]!.id);
    await userEvent.click(within(pager).getByRole('button', { name: /Older/ }));
    expect(screen.getAllByTestId('version')).toHaveLength(3);
    expect(within(pager).getByRole('button', { name: /Older/ })).toBeDisabled();
    await userEvent.click(within(pager).getByRole('button', { name: /Newer/ }));
    expect(pager).toHaveTextContent('11–20 of 23 versions');
  });

  it('has no pager for a single page', () => {
    stubFetch(() => undefined);
    renderWithClient(<VersionsTable backups={many(10)} />);
    expect(screen.queryByTestId('versions-pager')).toBeNull();
  });
});

describe('Database page restores', () => {
  const other = '01900000-0000-7000-8000-000000000002';
  const third = '01900000-0000-7000-8000-000000000003';
  const mk = (id: string, source: string, target: string, targetName: string, backupId: string): Restore => ({
    id, backup_id: backupId, source_database_id: source, target_database_id: target, target_database_name: targetName,
    engine: 'postgres', status: 'completed', actor: 'admin', started_at: '2025-01-05T10:00:00Z', finished_at: '2025-01-05T10:00:03Z',
    duration_ms: 3000, previous_kept_as: null, error: null,
  });

  it('counts what it lists: restores into it and of its versions into others, each labelled', async () => {
    // The server's restores_total says 0 although restores are listed: the page counts its own list.
    const db = database({ restores_total: 0 });
    const own = backup({ id: 'b-own' });
    const restores = [
      mk('r1', db.id, other, 'orders_copy', 'b-own'),
      mk('r2', db.id, db.id, 'orders', 'b-own'),
      mk('r3', third, db.id, 'orders', 'b-third'),
    ];
    stubFetch((c) => {
      if (c.path === `/api/v1/databases/${db.id}`) return { status: 200, body: db };
      if (c.path.startsWith(`/api/v1/databases/${db.id}/backups?`)) return { status: 200, body: { items: [own] } };
      if (c.path.startsWith('/api/v1/restores?')) return { status: 200, body: { items: restores } };
      if (c.path === `/api/v1/databases/${third}`) return { status: 200, body: database({ id: third, name: 'invoices' }) };
      if (c.path === '/api/v1/backups/b-third')
        return { status: 200, body: backup({ id: 'b-third', database_id: third, database_name: 'invoices', started_at: '2025-01-04T08:00:00Z' }) };
      return undefined;
    });
    renderWithClient(<DatabasePage id={db.id} />);
    const counts = await screen.findByTestId('restore-counts');
    await waitFor(() => expect(counts).toHaveTextContent('2 restores into it'));
    expect(counts).toHaveTextContent('1 restore of its versions into other databases');
    expect(counts).not.toHaveTextContent(/^0/);

    const rows = await screen.findAllByTestId('restore');
    expect(rows).toHaveLength(3);
    expect(rows[0]).toHaveTextContent('From this database, into orders_copy');
    expect(rows[0]).toHaveTextContent('orders, 2025-01-02 03:04:05 UTC');
    expect(rows[1]).toHaveTextContent('Into this database, from its own version');
    await waitFor(() => expect(rows[2]).toHaveTextContent('Into this database, from invoices'));
    await waitFor(() => expect(rows[2]).toHaveTextContent('invoices, 2025-01-04 08:00:00 UTC'));
    expect(restoreCounts(restores, db.id)).toEqual({ into: 2, fromVersions: 1 });
  });
});

describe('Database page restore drills', () => {
  it('says how the last drill went and marks the versions a drill restored', async () => {
    const db = database({
      drill: { schedule: null, sandbox: { new_database: { server_of: 'x' } }, max_row_loss_percent: 50 },
      last_drill: { id: 'dr1', status: 'completed', version: 'b-own', finished_at: '2025-01-05T10:00:00Z', duration_ms: 42_000, tables: 3, anomalies: 0 },
    });
    const own = backup({ id: 'b-own' });
    const other = backup({ id: 'b-other' });
    const calls = stubFetch((c) => {
      if (c.path === `/api/v1/databases/${db.id}`) return { status: 200, body: db };
      if (c.path.startsWith(`/api/v1/databases/${db.id}/backups`)) return { status: 200, body: { items: [own, other] } };
      if (c.path.startsWith('/api/v1/restores?')) return { status: 200, body: { items: [] } };
      if (c.path === `/api/v1/databases/${db.id}/drills` && c.method === 'GET')
        return {
          status: 200,
          body: {
            items: [
              {
                id: 'dr1', database_id: db.id, database_name: db.name, version: 'b-own', status: 'completed',
                started_at: '2025-01-05T09:59:00Z', finished_at: '2025-01-05T10:00:00Z', restore_id: 'r1', duration_ms: 42_000,
                tables: [{ name: 'public.a', rows: 3, checksum: '1' }], compared_with: null, anomalies: [], failed_stage: null, error: null,
              },
            ],
          },
        };
      if (c.path === `/api/v1/databases/${db.id}/drills` && c.method === 'POST') return { status: 202, body: { id: 'dr2' } };
      return undefined;
    });
    renderWithClient(<DatabasePage id={db.id} />);
    const line = await screen.findByTestId('last-drill');
    expect(line).toHaveTextContent('Last drill passed');
    expect(line).toHaveTextContent('restored in 42 s');
    const rows = await screen.findAllByTestId('version');
    await waitFor(() => expect(within(rows[0]!).getByTestId('rehearsed')).toHaveTextContent('Rehearsed'));
    expect(within(rows[1]!).queryByTestId('rehearsed')).toBeNull();
    await userEvent.click(screen.getByTestId('drill-now'));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST' && c.path === `/api/v1/databases/${db.id}/drills`)).toBe(true));
  });

  it('lists a point-in-time restore by the second it restored to, not as a version', async () => {
    const db = database();
    const pitr: Restore = {
      id: 'r-pitr', backup_id: '', source_database_id: db.id, target_database_id: 'other', target_database_name: 'copy', engine: 'postgres',
      status: 'completed', actor: 'admin', started_at: '2025-01-05T10:00:00Z', finished_at: '2025-01-05T10:00:30Z', duration_ms: 30_000,
      previous_kept_as: null, error: null, target_time: '2025-01-05T09:30:07Z',
    };
    stubFetch((c) => {
      if (c.path === `/api/v1/databases/${db.id}`) return { status: 200, body: db };
      if (c.path.startsWith(`/api/v1/databases/${db.id}/backups`)) return { status: 200, body: { items: [] } };
      if (c.path.startsWith('/api/v1/restores?')) return { status: 200, body: { items: [pitr] } };
      return undefined;
    });
    renderWithClient(<DatabasePage id={db.id} />);
    const cell = await screen.findByTestId('point-in-time');
    expect(cell).toHaveTextContent('As it was at');
    expect(cell.querySelector('time')).toHaveAttribute('datetime', '2025-01-05T09:30:07Z');
    expect(screen.queryByText(/cannot be loaded/)).toBeNull();
  });

  it('says a drill runs until it ends, and takes its result from the drill list before the database view catches up', async () => {
    const { DrillLine } = await import('./DatabasePage');
    const running = { id: 'dr2', status: 'running' as const, version: 'b1', finished_at: null, duration_ms: null, tables: 0, anomalies: 0 };
    const drill = (over: Partial<Drill>): Drill => ({
      id: 'dr2', database_id: 'd', database_name: 'orders', version: 'b1', status: 'completed', started_at: '2025-01-05T09:59:00Z',
      finished_at: '2025-01-05T10:00:00Z', restore_id: 'r', duration_ms: 3_200, tables: [{ name: 'public.a', rows: 1, checksum: '1' }],
      compared_with: null, anomalies: [], failed_stage: null, error: null, ...over,
    });
    const older = drill({ id: 'dr1', duration_ms: 9_000 });
    // The view says running and the list has not seen the new drill yet: running, not the older result.
    const { rerender } = renderWithClient(<DrillLine db={database({ last_drill: running })} drills={[older]} />);
    expect(screen.getByText('A drill is running…')).toBeInTheDocument();
    // The list has it completed while the view still says running: its result.
    rerender(<DrillLine db={database({ last_drill: running })} drills={[drill({}), older]} />);
    expect(screen.getByText(/Last drill passed/)).toHaveTextContent('restored in 3.2 s');
    expect(screen.getByText(/1 table counted/)).toBeInTheDocument();
    rerender(<DrillLine db={database({ last_drill: running })} drills={[drill({ status: 'running', finished_at: null }), older]} />);
    expect(screen.getByText('A drill is running…')).toBeInTheDocument();
  });

  it('names what a drill found', async () => {
    const { describeAnomaly } = await import('./DatabasePage');
    expect(describeAnomaly({ kind: 'vanished', table: 'public.b', previous_rows: 10 })).toBe('public.b vanished (had 10 rows)');
    expect(describeAnomaly({ kind: 'rows_lost', table: 't1', previous_rows: 200, rows: 150 })).toBe('t1 went from 200 to 150 rows');
  });
});

describe('Database page parallel jobs', () => {
  const show = async (db: Database) => {
    stubFetch((c) => {
      if (c.path === `/api/v1/databases/${db.id}`) return { status: 200, body: db };
      if (/\/backups(\?|$)/.test(c.path) || c.path.startsWith('/api/v1/restores')) return { status: 200, body: { items: [] } };
      return undefined;
    });
    renderWithClient(<DatabasePage id={db.id} />);
    await screen.findByRole('heading', { name: db.name });
  };

  it('says how a PostgreSQL database backs up and restores in parallel', async () => {
    await show(database({ backup_jobs: 2, restore_jobs: 3 }));
    const facts = screen.getByTestId('parallel-jobs');
    expect(facts).toHaveTextContent('Backups: 2 pg_dump processes on one snapshot');
    expect(facts).toHaveTextContent('Restores: pg_restore with 3 jobs');
  });

  it('says when a PostgreSQL database keeps the defaults', async () => {
    await show(database({ backup_jobs: 1, restore_jobs: null }));
    const facts = screen.getByTestId('parallel-jobs');
    expect(facts).toHaveTextContent('Backups: one pg_dump stream');
    expect(facts).toHaveTextContent('Restores: pg_restore with default jobs (min(4, cores))');
  });

  it('says nothing of them for MySQL/MariaDB', async () => {
    await show(database({ engine: 'mysql', connection: 'mysql://app:***@db/orders', backup_jobs: 1, restore_jobs: null }));
    expect(screen.queryByTestId('parallel-jobs')).toBeNull();
    expect(screen.queryByText(/pg_dump|pg_restore/)).toBeNull();
  });
});
