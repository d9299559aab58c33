import { describe, expect, it } from 'vitest';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Timeline } from './Timeline';
import type { LedgerEvent } from '../api';
import { stubFetch, type StubCall } from '../test/fetchStub';
import { database } from '../test/fixtures';
import { renderWithClient } from '../test/render';

function ev(position: number, type: string, payload: Record<string, unknown> = {}): LedgerEvent {
  return {
    position, type, aggregate_type: type.startsWith('Backup') ? 'Backup' : 'Database',
    aggregate_id: type.startsWith('Backup') ? 'bk1' : 'db1', sequence: 1, database_id: 'db1',
    at: '2025-03-04T05:06:07Z', actor: 'admin', correlation_id: 'corr', node: 'n1', payload,
  };
}

describe('Timeline', () => {
  it('lists events newest first, shows an event in full, and picks up new ones by polling after=', async () => {
    let live: LedgerEvent[] = [];
    const calls: StubCall[] = stubFetch((c) => {
      if (c.path.startsWith('/api/v1/databases')) return { status: 200, body: { items: [database({ id: 'db1', name: 'orders' })] } };
      if (c.path.startsWith('/api/v1/events')) {
        const q = new URL(c.path, 'http://x').searchParams;
        if (q.get('order') === 'desc') return { status: 200, body: { items: [ev(2, 'BackupStarted', { trigger: 'manual' }), ev(1, 'DatabaseRegistered', { name: 'orders', engine: 'postgres' })], next: null } };
        const after = Number(q.get('after'));
        return { status: 200, body: { items: live.filter((e) => e.position > after), next: null } };
      }
      return undefined;
    });
    window.history.replaceState(null, '', '/timeline');
    renderWithClient(<Timeline />);
    const list = await screen.findByRole('list', { name: 'Events, newest first' });
    const items = within(list).getAllByTestId('event');
    expect(items[0]).toHaveTextContent('BackupStarted');
    expect(items[1]).toHaveTextContent('Database registered: orders (postgres)');
    expect(within(items[0]!).getByText('orders')).toBeInTheDocument();

    const time = items[0]!.querySelector('time')!;
    expect(time).toHaveAttribute('title', '2025-03-04 05:06:07 UTC');

    await userEvent.click(within(items[0]!).getByRole('button'));
    expect(within(items[0]!).getByRole('button')).toHaveAttribute('aria-expanded', 'true');
    expect(screen.getByText(/"trigger": "manual"/)).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Backup' })).toHaveAttribute('href', '/backups/bk1');
    expect(screen.getByRole('link', { name: /Database orders/ })).toHaveAttribute('href', '/databases/db1');
    expect(window.location.search).toContain('event=2');

    live = [ev(3, 'BackupCompleted', { bytes: 4096, duration_ms: 1000 })];
    expect(await screen.findByText('Backup completed: 4.0 KiB stored in 1.0 s', {}, { timeout: 4000 })).toBeInTheDocument();
    expect(within(list).getAllByTestId('event')[0]).toHaveTextContent('BackupCompleted');
    const poll = calls.filter((c) => c.path.includes('after=')).map((c) => new URL(c.path, 'http://x').searchParams.get('after'));
    expect(poll).toContain('2');
  });

  it('passes the database and type filters to the API', async () => {
    const calls = stubFetch((c) =>
      c.path.startsWith('/api/v1/events')
        ? { status: 200, body: { items: [], next: null } }
        : { status: 200, body: { items: [database({ id: 'db1', name: 'orders' })] } },
    );
    window.history.replaceState(null, '', '/timeline?database_id=db1&type=BackupFailed');
    renderWithClient(<Timeline />);
    expect(await screen.findByText('No events match these filters.')).toBeInTheDocument();
    const first = calls.find((c) => c.path.startsWith('/api/v1/events'))!;
    const q = new URL(first.path, 'http://x').searchParams;
    expect(Object.fromEntries(q)).toEqual({ order: 'desc', limit: '50', database_id: 'db1', type: 'BackupFailed' });
  });
});
