import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import { RestorePage } from './RestorePage';
import type { Restore } from '../api';
import { stubFetch } from '../test/fetchStub';
import { backup, database } from '../test/fixtures';
import { renderWithClient } from '../test/render';

const SOURCE = '01900000-0000-7000-8000-000000000001';
const TARGET = '01900000-0000-7000-8000-000000000002';
const BACKUP = '01900000-0000-7000-8000-0000000000b1';

function restore(over: Partial<Restore> = {}): Restore {
  return {
    id: '01900000-0000-7000-8000-0000000000r1', backup_id: BACKUP, source_database_id: SOURCE, target_database_id: TARGET,
    target_database_name: 'orders_copy', engine: 'postgres', status: 'completed', actor: 'admin',
    started_at: '2025-01-03T10:00:00Z', finished_at: '2025-01-03T10:00:04Z', duration_ms: 4000, previous_kept_as: null, error: null,
    ...over,
  };
}

describe('Restore page', () => {
  it('names the source database and the version by its time, never by a short id', async () => {
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/restores/r1') return { status: 200, body: restore() };
      if (c.path === `/api/v1/backups/${BACKUP}`) return { status: 200, body: backup({ id: BACKUP, database_id: SOURCE, database_name: 'orders' }) };
      if (c.path === `/api/v1/databases/${SOURCE}`) return { status: 200, body: database({ id: SOURCE, name: 'orders' }) };
      return undefined;
    });
    renderWithClient(<RestorePage id="r1" />);
    const facts = await screen.findByTestId('restore-facts');
    const version = within(facts).getByTestId('version-ref');
    await waitFor(() => expect(version).toHaveTextContent('orders, 2025-01-02 03:04:05 UTC'));
    expect(version).toHaveAttribute('href', `/backups/${BACKUP}`);
    expect(version).toHaveAttribute('title', `Backup id ${BACKUP}`);
    const from = within(facts).getByTestId('database-ref');
    await waitFor(() => expect(from).toHaveTextContent(/^orders$/));
    expect(from).toHaveAttribute('href', `/databases/${SOURCE}`);
    expect(facts).not.toHaveTextContent('source database');
    expect(facts).not.toHaveTextContent(/backup 0190/);
    expect(facts).toHaveTextContent('orders_copy');
    // The full id stays available.
    expect(facts).toHaveTextContent('01900000-0000-7000-8000-0000000000r1');
    expect(calls.map((c) => c.path)).toContain(`/api/v1/databases/${SOURCE}`);
  });

  it('says a restore into its own database came from itself without asking the server', async () => {
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/restores/r1') return { status: 200, body: restore({ target_database_id: SOURCE, target_database_name: 'orders' }) };
      if (c.path === `/api/v1/backups/${BACKUP}`) return { status: 200, body: backup({ id: BACKUP }) };
      return undefined;
    });
    renderWithClient(<RestorePage id="r1" />);
    const facts = await screen.findByTestId('restore-facts');
    expect(within(facts).getByTestId('database-ref')).toHaveTextContent('orders');
    expect(facts).toHaveTextContent('the same database it was restored into');
    expect(calls.some((c) => c.path.startsWith('/api/v1/databases/'))).toBe(false);
  });
});
