import { afterEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Timeline } from './Timeline';
import type { LedgerEvent } from '../api';
import { stubFetch, type StubCall } from '../test/fetchStub';
import { backup, database } from '../test/fixtures';
import { renderWithClient } from '../test/render';
import { streamSettings } from '../sse';

function ev(position: number, type: string, payload: Record<string, unknown> = {}): LedgerEvent {
  return {
    position, type, aggregate_type: type.startsWith('Backup') ? 'Backup' : 'Database',
    aggregate_id: type.startsWith('Backup') ? 'bk1' : 'db1', sequence: 1, database_id: 'db1',
    at: '2025-03-04T05:06:07Z', actor: 'admin', correlation_id: 'corr', node: 'n1', payload,
  };
}

describe('Timeline', () => {
  const saved = { ...streamSettings };
  afterEach(() => {
    Object.assign(streamSettings, saved);
    vi.unstubAllGlobals();
  });

  it('names who acted by their display name, with the principal id beside it', async () => {
    const byDana = { ...ev(1, 'BackupStarted', { trigger: 'manual' }), actor: 'user:0190-dana', actor_name: 'dana' };
    stubFetch((c) => {
      if (c.path.startsWith('/api/v1/events/stream')) return { status: 503, body: { title: 'Service Unavailable', status: 503 } };
      if (c.path.startsWith('/api/v1/databases')) return { status: 200, body: { items: [database({ id: 'db1', name: 'orders' })] } };
      if (c.path === '/api/v1/backups/bk1') return { status: 200, body: backup({ id: 'bk1' }) };
      if (c.path.startsWith('/api/v1/events')) return { status: 200, body: { items: [byDana], next: null } };
      return undefined;
    });
    window.history.replaceState(null, '', '/timeline');
    renderWithClient(<Timeline />);
    const list = await screen.findByRole('list', { name: 'Events, newest first' });
    const item = within(list).getAllByTestId('event')[0]!;
    const who = within(item).getByText('by dana');
    expect(who).toHaveAttribute('title', 'user:0190-dana');
    expect(item).not.toHaveTextContent('by user:0190-dana');
    await userEvent.click(within(item).getByRole('button'));
    expect(await screen.findByText('user:0190-dana')).toBeInTheDocument();
  });

  it('lists events newest first, shows an event in full, and falls back to polling after= when the stream keeps failing', async () => {
    streamSettings.retryMs = 5;
    let live: LedgerEvent[] = [];
    const calls: StubCall[] = stubFetch((c) => {
      if (c.path.startsWith('/api/v1/events/stream')) return { status: 503, body: { title: 'Service Unavailable', status: 503 } };
      if (c.path.startsWith('/api/v1/databases')) return { status: 200, body: { items: [database({ id: 'db1', name: 'orders' })] } };
      if (c.path === '/api/v1/backups/bk1') return { status: 200, body: backup({ id: 'bk1' }) };
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
    // Every time shows its zone (the viewer's; the tests run in UTC), and so do the range filters.
    expect(time).toHaveTextContent('2025-03-04 05:06:07 UTC');
    expect(screen.getByLabelText('From (UTC)')).toHaveAttribute('type', 'datetime-local');
    expect(screen.getByLabelText('To (UTC)')).toHaveAttribute('type', 'datetime-local');

    await userEvent.click(within(items[0]!).getByRole('button'));
    expect(within(items[0]!).getByRole('button')).toHaveAttribute('aria-expanded', 'true');
    expect(screen.getByText(/"trigger": "manual"/)).toBeInTheDocument();
    // The version by its database and time, not by an id.
    const version = await screen.findByRole('link', { name: 'orders, 2025-01-02 03:04:05 UTC' });
    expect(version).toHaveAttribute('href', '/backups/bk1');
    expect(screen.getByRole('link', { name: /Database orders/ })).toHaveAttribute('href', '/databases/db1');
    expect(window.location.search).toContain('event=2');

    live = [ev(3, 'BackupCompleted', { bytes: 4096, duration_ms: 1000 })];
    expect(await screen.findByText('Backup completed: 4.0 KiB stored in 1.0 s', {}, { timeout: 4000 })).toBeInTheDocument();
    expect(within(list).getAllByTestId('event')[0]).toHaveTextContent('BackupCompleted');
    const poll = calls.filter((c) => c.path.includes('after=')).map((c) => new URL(c.path, 'http://x').searchParams.get('after'));
    expect(poll).toContain('2');
    expect(calls.filter((c) => c.path.startsWith('/api/v1/events/stream'))).toHaveLength(3);
    expect(screen.getByTestId('live-indicator')).toHaveTextContent('Live (polling every 2 s)');
  });

  it('shows new events live from the stream (token in a header, never in the URL) and resumes with Last-Event-ID', async () => {
    streamSettings.retryMs = 5;
    sessionStorage.setItem('backline.token', 'tok-123');
    const enc = new TextEncoder();
    const streams: { url: string; headers: Record<string, string>; push: (s: string) => void; close: () => void }[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: string, init?: RequestInit) => {
        const url = String(input);
        const headers = (init?.headers ?? {}) as Record<string, string>;
        if (url.startsWith('/api/v1/events/stream')) {
          let ctl!: ReadableStreamDefaultController<Uint8Array>;
          const body = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
          streams.push({ url, headers, push: (t) => ctl.enqueue(enc.encode(t)), close: () => ctl.close() });
          return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
        }
        const json = (b: unknown) => new Response(JSON.stringify(b), { status: 200, headers: { 'Content-Type': 'application/json' } });
        if (url.startsWith('/api/v1/databases')) return json({ items: [database({ id: 'db1', name: 'orders' })] });
        if (url.startsWith('/api/v1/events')) {
          const q = new URL(url, 'http://x').searchParams;
          return json({ items: q.get('order') === 'desc' ? [ev(2, 'BackupStarted'), ev(1, 'DatabaseRegistered')] : [], next: null });
        }
        return new Response(null, { status: 404 });
      }),
    );
    window.history.replaceState(null, '', '/timeline');
    renderWithClient(<Timeline />);
    const list = await screen.findByRole('list', { name: 'Events, newest first' });
    await waitFor(() => expect(streams).toHaveLength(1));
    expect(streams[0]!.url).toBe('/api/v1/events/stream');
    expect(streams[0]!.url).not.toContain('tok-123');
    expect(streams[0]!.headers.Authorization).toBe('Bearer tok-123');
    expect(streams[0]!.headers['Last-Event-ID']).toBe('2');
    await waitFor(() => expect(screen.getByTestId('live-indicator')).toHaveTextContent(/^Live$/));

    // An event split mid-line over two chunks.
    const data = JSON.stringify(ev(3, 'BackupCompleted', { bytes: 4096, duration_ms: 1000 }));
    streams[0]!.push(`: keep-alive\n\nid: 3\ndata: ${data.slice(0, 20)}`);
    streams[0]!.push(`${data.slice(20)}\n\n`);
    expect(await screen.findByText('Backup completed: 4.0 KiB stored in 1.0 s')).toBeInTheDocument();
    expect(within(list).getAllByTestId('event')[0]).toHaveTextContent('BackupCompleted');
    expect(within(list).getAllByTestId('event')[0]).toHaveClass('is-new');

    // The server goes away: the next connection resumes after the highest position seen.
    streams[0]!.close();
    await waitFor(() => expect(streams).toHaveLength(2));
    expect(streams[1]!.headers['Last-Event-ID']).toBe('3');
    streams[1]!.push(`id: 4\ndata: ${JSON.stringify(ev(4, 'BackupStarted', { trigger: 'scheduled' }))}\n\n`);
    expect(await screen.findByText('Backup started (scheduled)')).toBeInTheDocument();
    // Events already shown are not repeated.
    streams[1]!.push(`id: 3\ndata: ${data}\n\n`);
    await new Promise((r) => setTimeout(r, 80));
    expect(within(list).getAllByTestId('event').map((e) => e.getAttribute('data-type'))).toEqual([
      'BackupStarted', 'BackupCompleted', 'BackupStarted', 'DatabaseRegistered',
    ]);
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
