import { describe, expect, it } from 'vitest';
import { screen, within } from '@testing-library/react';
import { Dashboard } from './Dashboard';
import { stubFetch } from '../test/fetchStub';
import { alert, database } from '../test/fixtures';
import { renderWithClient } from '../test/render';

describe('Dashboard', () => {
  it('shows the empty state with a way to add one', async () => {
    stubFetch(() => ({ status: 200, body: { items: [] } }));
    renderWithClient(<Dashboard />);
    expect(await screen.findByText(/No databases yet —/)).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'add one' })).toHaveAttribute('href', '/databases/new');
  });

  it('puts a failing database first and marks it, with totals on top', async () => {
    const ok = database({
      id: 'a', name: 'alpha', backups_completed: 3,
      last_backup: { id: 'b1', status: 'completed', started_at: '2025-01-01T00:00:00Z', finished_at: '2025-01-01T00:00:02Z', bytes: 2048 },
    });
    const bad = database({
      id: 'z', name: 'zulu', backups_failed: 1, engine: 'mysql',
      last_backup: { id: 'b2', status: 'failed', started_at: '2025-01-01T00:00:00Z', finished_at: '2025-01-01T00:00:02Z', bytes: null },
    });
    stubFetch((c) => ({
      status: 200,
      body: { items: c.path.startsWith('/api/v1/alerts') || c.path.startsWith('/api/v1/leftovers') ? [] : [ok, bad] },
    }));
    renderWithClient(<Dashboard />);
    const rows = await screen.findAllByRole('row');
    // rows[0] is the header row
    expect(rows[1]).toHaveTextContent('zulu');
    expect(rows[1]).toHaveClass('health-failed');
    expect(within(rows[1]!).getByText('Failed')).toBeInTheDocument();
    expect(within(rows[1]!).getByText('MySQL / MariaDB')).toBeInTheDocument();
    expect(rows[2]).toHaveTextContent('alpha');
    expect(within(rows[2]!).getByText('2.0 KiB')).toBeInTheDocument();
    const totals = screen.getByLabelText('Totals');
    expect(within(totals).getByText('Failing').nextSibling).toHaveTextContent('1');
    expect(within(totals).getByText('Databases').nextSibling).toHaveTextContent('2');
  });

  it('marks the rows of databases with open alerts, linking to the alerts', async () => {
    const a = database({ id: 'a', name: 'alpha' });
    const b = database({ id: 'b', name: 'bravo' });
    const calls = stubFetch((c) =>
      c.path.startsWith('/api/v1/alerts')
        ? { status: 200, body: { items: [alert({ id: 'x1', database_id: 'b' }), alert({ id: 'x2', database_id: 'b', kind: 'missed_schedule' })] } }
        : c.path.startsWith('/api/v1/leftovers')
          ? { status: 200, body: { items: [] } }
          : { status: 200, body: { items: [a, b] } },
    );
    renderWithClient(<Dashboard />);
    const marker = await screen.findByTestId('alert-marker');
    const row = screen.getByTestId('db-row-bravo');
    expect(row).toContainElement(marker);
    expect(row).toHaveClass('has-alert');
    expect(marker).toHaveTextContent('2 open alerts');
    expect(marker).toHaveAttribute('href', '/alerts');
    expect(within(screen.getByTestId('db-row-alpha')).queryByTestId('alert-marker')).toBeNull();
    expect(calls.some((c) => c.path.startsWith('/api/v1/alerts?state=open&'))).toBe(true);
  });

  it('names the scratch databases crashed restores left, and how to drop them', async () => {
    const a = database({ id: 'a', name: 'alpha' });
    stubFetch((c) =>
      c.path.startsWith('/api/v1/leftovers')
        ? {
            status: 200,
            body: {
              items: [
                {
                  scratch_database: 'alpha__restore_0123456789ab',
                  engine: 'postgres',
                  server: 'db.example:5432',
                  restore_id: 'r1',
                  restore_started_at: '2025-01-01T00:00:00Z',
                  target_database_id: 'a',
                  target_database_name: 'alpha',
                  restore_error: 'the restore was abandoned',
                },
              ],
            },
          }
        : { status: 200, body: { items: c.path.startsWith('/api/v1/alerts') ? [] : [a] } },
    );
    renderWithClient(<Dashboard />);
    const notice = await screen.findByTestId('leftovers-notice');
    expect(notice).toHaveTextContent('1 scratch database was left by a restore that did not finish.');
    expect(notice).toHaveTextContent('alpha__restore_0123456789ab on db.example:5432');
    expect(notice).toHaveTextContent('backline cleanup --scratch');
    expect(within(notice).getByRole('link', { name: 'alpha' })).toHaveAttribute('href', '/databases/a');
  });

  it('shows no notice without leftovers', async () => {
    stubFetch((c) => ({ status: 200, body: { items: c.path.startsWith('/api/v1/databases') ? [database({ id: 'a', name: 'alpha' })] : [] } }));
    renderWithClient(<Dashboard />);
    await screen.findByTestId('db-row-alpha');
    expect(screen.queryByTestId('leftovers-notice')).toBeNull();
  });
});
