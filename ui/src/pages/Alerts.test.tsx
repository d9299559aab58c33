import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Alerts } from './Alerts';
import type { Alert } from '../api';
import { stubFetch } from '../test/fetchStub';
import { alert, channel } from '../test/fixtures';
import { renderWithClient } from '../test/render';

describe('Alerts page', () => {
  it('lists open alerts with their deliveries per channel, and acknowledges one', async () => {
    let alerts: Alert[] = [
      alert({
        deliveries: [
          { channel_id: 'ch-1', notice: 'raised', outcome: 'failed', status_code: 500, error: 'HTTP 500 from https://hooks.example.com/backline/T123/secret?x=1', attempt: 1, at: '2025-03-04T05:06:08Z', position: 10 },
          { channel_id: 'ch-2', notice: 'raised', outcome: 'delivered', status_code: 200, error: null, attempt: 1, at: '2025-03-04T05:06:08Z', position: 11 },
          { channel_id: 'ch-1', notice: 'raised', outcome: 'delivered', status_code: 204, error: null, attempt: 2, at: '2025-03-04T05:06:09Z', position: 12 },
        ],
      }),
    ];
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/channels') return { status: 200, body: { items: [channel({ id: 'ch-1', name: 'ops-hook' }), channel({ id: 'ch-2', name: 'mail', type: 'email', to: ['ops@example.com'] })] } };
      if (c.path.startsWith('/api/v1/alerts?')) {
        const state = new URL(c.path, 'http://x').searchParams.get('state');
        return { status: 200, body: { items: alerts.filter((a) => a.state === state) } };
      }
      if (c.method === 'POST' && c.path === '/api/v1/alerts/al-1/acknowledge') {
        alerts = alerts.map((a) => ({ ...a, state: 'acknowledged', acknowledged_at: '2025-03-04T07:00:00Z', acknowledged_by: 'admin' }));
        return { status: 200, body: alerts[0] };
      }
      return undefined;
    });
    window.history.replaceState(null, '', '/alerts');
    renderWithClient(<Alerts />);

    const list = await screen.findByRole('list', { name: 'Open alerts' });
    const card = within(list).getByTestId('alert');
    expect(card).toHaveTextContent('Backup failed');
    expect(within(card).getByRole('link', { name: 'orders' })).toHaveAttribute('href', '/databases/01900000-0000-7000-8000-000000000001');
    expect(card).toHaveTextContent('does not exist');
    expect(card).toHaveTextContent('3 times');
    expect(card.querySelector('time')).toHaveAttribute('title', '2025-03-04 05:06:07 UTC');
    expect(screen.getByRole('tab', { name: /Unresolved/ })).toHaveAttribute('aria-selected', 'true');
    expect(screen.getByTestId('unresolved-tab-count')).toHaveTextContent('1');
    expect(screen.getByTestId('alerts-summary')).toHaveTextContent('1 open alert to look at.');

    // One row per channel (and notice): the latest outcome, the attempts, the errors (URL shortened).
    const rows = await within(card).findAllByTestId('delivery');
    expect(rows).toHaveLength(2);
    await waitFor(() => expect(rows[0]).toHaveTextContent('ops-hook'));
    expect(rows[0]).toHaveAttribute('data-outcome', 'delivered');
    expect(within(rows[0]!).getByText('Delivered (HTTP 204)')).toBeInTheDocument();
    expect(rows[0]!.querySelector('td.num')).toHaveTextContent('2');
    expect(rows[0]).toHaveTextContent('HTTP 500 from https://hooks.example.com/backline/…');
    expect(rows[0]).not.toHaveTextContent('secret');
    expect(rows[1]).toHaveTextContent('mail');

    await userEvent.click(within(card).getByRole('button', { name: 'Acknowledge' }));
    expect(calls.some((c) => c.method === 'POST' && c.path === '/api/v1/alerts/al-1/acknowledge')).toBe(true);
    // Acknowledged is not resolved: the page never says "fine" while it is still failing.
    const summary = screen.getByTestId('alerts-summary');
    await waitFor(() =>
      expect(summary).toHaveTextContent('No new alerts, but 1 acknowledged alert is not resolved: orders is still failing.'),
    );
    expect(screen.queryByText(/is fine/)).toBeNull();
    expect(screen.getByRole('heading', { name: 'Open (0)' })).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Acknowledged, still failing (1)' })).toBeInTheDocument();
    const acked = screen.getByRole('list', { name: 'Acknowledged alerts' });
    const ackCard = within(acked).getByTestId('alert');
    expect(within(ackCard).getByTestId('acknowledged-by')).toHaveTextContent(
      'Acknowledged by admin on 2025-03-04 07:00:00 UTC. Not resolved yet: it resolves when a backup of orders completes.',
    );
    expect(within(acked).queryByRole('button', { name: 'Acknowledge' })).toBeNull();
    expect(screen.getByTestId('unresolved-tab-count')).toHaveTextContent('1');
    expect(screen.getByTestId('unresolved-tab-count')).not.toHaveClass('count-bad');

    // Keyboard: arrow to the next tab selects it.
    screen.getByRole('tab', { name: /Unresolved/ }).focus();
    await userEvent.keyboard('{ArrowRight}');
    const resolvedTab = screen.getByRole('tab', { name: 'Resolved' });
    expect(resolvedTab).toHaveFocus();
    expect(resolvedTab).toHaveAttribute('aria-selected', 'true');
    expect(window.location.search).toBe('?state=resolved');
    expect(await screen.findByText('No resolved alerts yet.')).toBeInTheDocument();
  });

  it('says everything is fine only when no alert is open or acknowledged', async () => {
    stubFetch((c) => {
      if (c.path === '/api/v1/channels') return { status: 200, body: { items: [] } };
      if (c.path.startsWith('/api/v1/alerts?')) return { status: 200, body: { items: [] } };
      return undefined;
    });
    window.history.replaceState(null, '', '/alerts');
    renderWithClient(<Alerts />);
    expect(await screen.findByTestId('alerts-summary')).toHaveTextContent('No open or acknowledged alerts: every backup and restore is fine.');
  });

  it('lists open alerts first and the acknowledged ones under their own heading', async () => {
    stubFetch((c) => {
      if (c.path === '/api/v1/channels') return { status: 200, body: { items: [] } };
      if (c.path.startsWith('/api/v1/alerts?state=open&')) return { status: 200, body: { items: [alert({ id: 'a1', database_name: 'billing' })] } };
      if (c.path.startsWith('/api/v1/alerts?state=acknowledged&'))
        return {
          status: 200,
          body: {
            items: [
              alert({ id: 'a2', state: 'acknowledged', kind: 'restore_failed', acknowledged_at: '2025-03-04T08:00:00Z', acknowledged_by: 'ops' }),
              alert({ id: 'a3', state: 'acknowledged', database_name: 'users', acknowledged_at: '2025-03-04T08:30:00Z', acknowledged_by: 'ops' }),
            ],
          },
        };
      return undefined;
    });
    window.history.replaceState(null, '', '/alerts?state=acknowledged');
    renderWithClient(<Alerts />);
    const summary = await screen.findByTestId('alerts-summary');
    expect(summary).toHaveTextContent('1 open alert to look at, and 2 acknowledged alerts are not resolved: orders and users are still failing.');
    expect(screen.getByTestId('unresolved-tab-count')).toHaveTextContent('3');
    expect(screen.getByTestId('unresolved-tab-count')).toHaveClass('count-bad');
    const open = screen.getByRole('list', { name: 'Open alerts' });
    expect(within(open).getAllByTestId('alert')).toHaveLength(1);
    const acked = within(screen.getByRole('list', { name: 'Acknowledged alerts' })).getAllByTestId('alert');
    expect(acked).toHaveLength(2);
    expect(acked[0]).toHaveTextContent('Acknowledged by ops on 2025-03-04 08:00:00 UTC');
    expect(acked[0]).toHaveTextContent('it resolves when a restore into orders completes.');
  });

  it('shows why acknowledging failed', async () => {
    stubFetch((c) => {
      if (c.path === '/api/v1/channels') return { status: 200, body: { items: [] } };
      if (c.path.startsWith('/api/v1/alerts?state=open&')) return { status: 200, body: { items: [alert()] } };
      if (c.path.startsWith('/api/v1/alerts?')) return { status: 200, body: { items: [] } };
      if (c.method === 'POST') return { status: 409, body: { title: 'Conflict', status: 409, detail: 'the alert is already resolved' } };
      return undefined;
    });
    window.history.replaceState(null, '', '/alerts');
    renderWithClient(<Alerts />);
    await userEvent.click(await screen.findByRole('button', { name: 'Acknowledge' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('the alert is already resolved');
    expect(screen.getByText(/no channel is set up/)).toBeInTheDocument();
  });
});
