import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DrillPanel, checkDrill, drillBody, drillDraft } from './DrillPanel';
import type { Database } from '../api';
import { ADMIN_SESSION, stubFetch } from '../test/fetchStub';
import { database } from '../test/fixtures';
import { renderWithClient } from '../test/render';

const src = database();
const staging = database({ id: '01900000-0000-7000-8000-000000000002', name: 'staging', restore_target: true });
const plain = database({ id: '01900000-0000-7000-8000-000000000003', name: 'reports' });
const maria = database({ id: '01900000-0000-7000-8000-000000000004', name: 'shop', engine: 'mysql', restore_target: true });

function withDrill(over: Partial<Database> = {}): Database {
  return database({
    drill: {
      schedule: {
        cron: '0 4 * * 0', timezone: 'UTC', catch_up: 'latest', description: 'At 04:00, only on Sunday. (UTC)',
        since: '2025-01-01T00:00:00Z', next_run_at: '2099-01-04T04:00:00Z', next_run_at_local: '2099-01-04T04:00:00+00:00',
      },
      sandbox: { target: { database_id: staging.id } },
      max_row_loss_percent: 30,
    },
    ...over,
  });
}

/** Answers the database list and PUT/DELETE of the drill with `put` (default: the saved database). */
function stub(put?: (body: unknown) => { status: number; body?: unknown }) {
  return stubFetch((c) => {
    if (c.path.startsWith('/api/v1/databases?') || c.path === '/api/v1/databases')
      return { status: 200, body: { items: [src, staging, plain, maria] } };
    if (c.path === `/api/v1/databases/${src.id}/drill` && c.method === 'PUT')
      return put ? put(c.body) : { status: 200, body: withDrill() };
    if (c.path === `/api/v1/databases/${src.id}/drill` && c.method === 'DELETE') return { status: 200, body: database() };
    return undefined;
  });
}

describe('Restore drill settings', () => {
  it('sets a scheduled drill into a new database each time, with the default threshold', async () => {
    const calls = stub();
    renderWithClient(<DrillPanel db={src} />);
    expect(screen.getByTestId('drill-summary')).toHaveTextContent('No drill');
    await userEvent.click(screen.getByRole('button', { name: 'Set up a drill' }));
    expect(screen.getByLabelText('Anomaly when a table loses more than (% of its rows)')).toHaveValue('50');
    expect(screen.getByLabelText(/A new database each time/)).toBeChecked();
    await userEvent.type(screen.getByLabelText('Drill schedule (cron)'), '0 4 * * 0');
    await userEvent.click(screen.getByRole('button', { name: 'Save drill' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'PUT')).toBe(true));
    expect(calls.find((c) => c.method === 'PUT')!.body).toEqual({
      schedule: '0 4 * * 0',
      timezone: 'UTC',
      sandbox: { new_database: { server_of: src.id } },
      max_row_loss_percent: 50,
    });
    // Saved: the form closes and the panel shows the saved settings.
    await screen.findByRole('button', { name: 'Set up a drill' });
  });

  it('offers only restore targets of the same engine, other than the database itself', async () => {
    const calls = stub();
    renderWithClient(<DrillPanel db={src} />);
    await userEvent.click(screen.getByRole('button', { name: 'Set up a drill' }));
    await userEvent.click(screen.getByLabelText(/A registered restore target/));
    const select = await screen.findByLabelText('Restore target');
    await waitFor(() => expect(select).toHaveValue(staging.id));
    const options = [...(select as HTMLSelectElement).options].map((o) => o.textContent);
    expect(options).toEqual(['staging']);
    await userEvent.clear(screen.getByLabelText('Anomaly when a table loses more than (% of its rows)'));
    await userEvent.type(screen.getByLabelText('Anomaly when a table loses more than (% of its rows)'), '25');
    await userEvent.click(screen.getByRole('button', { name: 'Save drill' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'PUT')).toBe(true));
    expect(calls.find((c) => c.method === 'PUT')!.body).toEqual({
      sandbox: { target_database_id: staging.id },
      max_row_loss_percent: 25,
    });
  });

  it('shows the server’s refusals (problem+json) beside their fields, with the focus on the first', async () => {
    const calls = stub(() => ({
      status: 422,
      body: {
        title: 'Invalid request',
        status: 422,
        errors: [
          { field: 'schedule', message: 'invalid cron expression "0 25 * * *": hour 25 out of range' },
          { field: 'sandbox.new_database.server_of', message: 'shop is a mysql database, but orders is postgres' },
        ],
      },
    }));
    renderWithClient(<DrillPanel db={src} />);
    await userEvent.click(screen.getByRole('button', { name: 'Set up a drill' }));
    const cron = screen.getByLabelText('Drill schedule (cron)');
    await userEvent.type(cron, '0 25 * * *');
    await userEvent.click(screen.getByRole('button', { name: 'Save drill' }));
    const scheduleError = await screen.findByText(/hour 25 out of range/);
    expect(scheduleError).toHaveAttribute('id', 'drill-schedule-error');
    expect(cron).toHaveAttribute('aria-invalid', 'true');
    expect(cron).toHaveAttribute('aria-describedby', 'drill-schedule-error');
    await waitFor(() => expect(cron).toHaveFocus());
    expect(screen.getByText(/shop is a mysql database/)).toHaveAttribute('id', 'drill-sandbox-error');
    // Not repeated as a general error.
    expect(screen.queryByTestId('form-error')).toBeNull();
    // Editing the schedule clears its error; the sandbox's stays until the sandbox changes.
    await userEvent.type(cron, 'x');
    expect(screen.queryByText(/hour 25 out of range/)).toBeNull();
    expect(screen.getByText(/shop is a mysql database/)).toBeInTheDocument();
    expect(calls.filter((c) => c.method === 'PUT')).toHaveLength(1);
  });

  it('checks the threshold and the sandbox itself, sending nothing while they are wrong', async () => {
    const calls = stubFetch((c) => {
      if (c.path.startsWith('/api/v1/databases')) return { status: 200, body: { items: [src, plain] } };
      return undefined;
    });
    renderWithClient(<DrillPanel db={src} />);
    await userEvent.click(screen.getByRole('button', { name: 'Set up a drill' }));
    const loss = screen.getByLabelText('Anomaly when a table loses more than (% of its rows)');
    await userEvent.clear(loss);
    await userEvent.type(loss, '0');
    await userEvent.click(screen.getByLabelText(/A registered restore target/));
    await userEvent.click(screen.getByRole('button', { name: 'Save drill' }));
    expect(await screen.findByText('Give a whole percentage from 1 to 100.')).toHaveAttribute('id', 'drill-loss-error');
    expect(screen.getByText(/Choose the restore target/)).toHaveAttribute('id', 'drill-sandbox-error');
    expect(screen.getByLabelText('Restore target')).toHaveTextContent('No restore target of this engine is registered');
    expect(calls.some((c) => c.method === 'PUT')).toBe(false);
  });

  it('shows saved settings, edits them from what was saved, and removes the drill', async () => {
    const calls = stub();
    const db = withDrill();
    renderWithClient(<DrillPanel db={db} />);
    const summary = screen.getByTestId('drill-summary');
    expect(summary).toHaveTextContent('30%');
    await waitFor(() => expect(summary).toHaveTextContent('restores into staging (replaced each time)'));
    await userEvent.click(screen.getByRole('button', { name: 'Change drill' }));
    expect(screen.getByLabelText('Drill schedule (cron)')).toHaveValue('0 4 * * 0');
    expect(screen.getByLabelText(/A registered restore target/)).toBeChecked();
    expect(screen.getByLabelText('Anomaly when a table loses more than (% of its rows)')).toHaveValue('30');
    await userEvent.click(screen.getByRole('button', { name: 'Remove drill' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'DELETE' && c.path === `/api/v1/databases/${db.id}/drill`)).toBe(true));
  });

  it('is not offered to a role that may not change the database', async () => {
    stubFetch((c) => {
      if (c.path === '/api/v1/session') return { status: 200, body: { ...ADMIN_SESSION, role: 'operator' } };
      if (c.path.startsWith('/api/v1/databases')) return { status: 200, body: { items: [src] } };
      return undefined;
    });
    renderWithClient(<DrillPanel db={withDrill()} />);
    expect(screen.getByTestId('drill-summary')).toHaveTextContent('30%');
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Change drill' })).toBeNull());
  });
});

describe('drill drafts', () => {
  it('round-trip the saved settings into the body (catch-up kept, UTC left implicit in the form)', () => {
    const db = withDrill();
    db.drill!.schedule!.catch_up = 'all';
    const draft = drillDraft(db);
    expect(draft.timezone).toBe('');
    expect(drillBody(draft)).toEqual({
      schedule: '0 4 * * 0', timezone: 'UTC', catch_up: 'all',
      sandbox: { target_database_id: staging.id }, max_row_loss_percent: 30,
    });
    expect(checkDrill({ ...draft, cron: '', timezone: 'Europe/Berlin' }).timezone).toMatch(/needs a schedule/);
    expect(checkDrill({ ...draft, loss: '101' }).max_row_loss_percent).not.toBeNull();
    expect(checkDrill({ ...draft, loss: '100' }).max_row_loss_percent).toBeNull();
  });
});
