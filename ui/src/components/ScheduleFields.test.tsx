import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DatabaseFormFields } from '../pages/DatabaseForm';
import { stubFetch, type StubCall } from '../test/fetchStub';
import { database } from '../test/fixtures';
import { renderWithClient } from '../test/render';

const PREVIEW = {
  description: 'At 03:00. (Europe/Berlin)',
  next_runs: ['2025-01-02T02:00:00Z', '2025-01-03T02:00:00Z', '2025-01-04T02:00:00Z', '2025-01-05T02:00:00Z', '2025-01-06T02:00:00Z'],
  next_runs_local: [
    '2025-01-02T03:00:00+01:00',
    '2025-01-03T03:00:00+01:00',
    '2025-01-04T03:00:00+01:00',
    '2025-01-05T03:00:00+01:00',
    '2025-01-06T03:00:00+01:00',
  ],
};

function previewServer(extra: (c: StubCall) => { status: number; body?: unknown } | undefined = () => undefined) {
  return stubFetch((c) => {
    if (c.path.startsWith('/api/v1/schedules/preview')) {
      const q = new URL(c.path, 'http://x').searchParams;
      const cron = q.get('cron') ?? '';
      if (cron.includes('25')) {
        const message = `invalid cron expression "${cron}": Component error: Number out of bounds.`;
        return { status: 422, body: { title: 'Unprocessable Entity', status: 422, detail: message, errors: [{ field: 'schedule', message }] } };
      }
      if (q.get('timezone') === 'Mars/Olympus') {
        const message = 'unknown time zone "Mars/Olympus": use an IANA name such as Europe/Paris or UTC';
        return { status: 422, body: { title: 'Unprocessable Entity', status: 422, detail: message, errors: [{ field: 'timezone', message }] } };
      }
      return { status: 200, body: PREVIEW };
    }
    return extra(c);
  });
}

async function fillBasics() {
  await userEvent.type(screen.getByLabelText('Name'), 'orders');
  await userEvent.type(screen.getByLabelText('Connection URL (without password)'), 'postgres://app@db/orders');
}

describe('Schedule fields', () => {
  it('previews the schedule live: its description and the next 5 runs in its time zone and in UTC', async () => {
    const calls = previewServer();
    renderWithClient(<DatabaseFormFields />);
    const preview = screen.getByTestId('schedule-preview');
    expect(preview).toHaveAttribute('data-state', 'empty');
    await userEvent.type(screen.getByLabelText('Schedule (cron)'), '0 3 * * *');
    await userEvent.type(screen.getByLabelText('Time zone'), 'Europe/Berlin');

    expect(await screen.findByText('Every day at 03:00 (Europe/Berlin)')).toBeInTheDocument();
    const rows = within(preview).getAllByTestId('next-run');
    expect(rows).toHaveLength(5);
    expect(rows[0]).toHaveTextContent(/03:00 \(UTC\+01:00\)/);
    expect(rows[0]).toHaveTextContent(/02:00 UTC/);
    expect(within(preview).getByRole('columnheader', { name: 'Next runs (Europe/Berlin)' })).toBeInTheDocument();

    // Debounced: one request for the settled input, not one per keystroke.
    const asked = calls.filter((c) => c.path.startsWith('/api/v1/schedules/preview'));
    expect(asked.length).toBeLessThanOrEqual(2);
    const last = new URL(asked.at(-1)!.path, 'http://x').searchParams;
    expect(last.get('cron')).toBe('0 3 * * *');
    expect(last.get('timezone')).toBe('Europe/Berlin');
    expect(last.get('count')).toBe('5');
  });

  it("shows the parser's reason next to the schedule field, and clears it once fixed", async () => {
    previewServer();
    renderWithClient(<DatabaseFormFields />);
    const cron = screen.getByLabelText('Schedule (cron)');
    await userEvent.type(cron, '0 25 * * *');
    const reason = 'invalid cron expression "0 25 * * *": Component error: Number out of bounds.';
    expect(await screen.findByText(reason)).toBeInTheDocument();
    expect(cron).toHaveAttribute('aria-invalid', 'true');
    expect(cron).toHaveAccessibleDescription(reason);
    expect(screen.getByTestId('schedule-preview')).toHaveAttribute('data-state', 'error');
    expect(screen.getByTestId('schedule-preview')).toHaveTextContent('Fix the schedule above');

    await userEvent.clear(cron);
    await userEvent.type(cron, '0 3 * * *');
    expect(await screen.findByText('Every day at 03:00 (Europe/Berlin)')).toBeInTheDocument();
    expect(cron).not.toHaveAttribute('aria-invalid');
    expect(screen.queryByText(reason)).toBeNull();
  });

  it('puts an unknown time zone error on the time-zone field', async () => {
    previewServer();
    renderWithClient(<DatabaseFormFields />);
    await userEvent.type(screen.getByLabelText('Schedule (cron)'), '@daily');
    const tz = screen.getByLabelText('Time zone');
    await userEvent.type(tz, 'Mars/Olympus');
    await waitFor(() => expect(tz).toHaveAttribute('aria-invalid', 'true'));
    expect(tz).toHaveAccessibleDescription(/unknown time zone "Mars\/Olympus"/);
    expect(screen.getByLabelText('Schedule (cron)')).not.toHaveAttribute('aria-invalid');
  });

  it('sends schedule, time zone and catch-up when adding a database', async () => {
    const calls = previewServer((c) => (c.method === 'POST' ? { status: 201, body: database() } : undefined));
    renderWithClient(<DatabaseFormFields />);
    await fillBasics();
    await userEvent.type(screen.getByLabelText('Schedule (cron)'), '0 3 * * *');
    await userEvent.type(screen.getByLabelText('Time zone'), 'Europe/Berlin');
    await userEvent.selectOptions(screen.getByLabelText('Missed runs'), 'none');
    await userEvent.click(screen.getByRole('button', { name: 'Add database' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({
      name: 'orders', engine: 'postgres', connection: 'postgres://app@db/orders',
      schedule: '0 3 * * *', timezone: 'Europe/Berlin', catch_up: 'none',
    });
  });

  it('shows a save-time schedule error from the server next to the field', async () => {
    const message = 'timezone and catch_up need a schedule (a cron expression)';
    previewServer((c) =>
      c.method === 'POST'
        ? { status: 422, body: { title: 'Unprocessable Entity', status: 422, detail: message, errors: [{ field: 'catch_up', message }] } }
        : undefined,
    );
    renderWithClient(<DatabaseFormFields />);
    await fillBasics();
    await userEvent.click(screen.getByRole('button', { name: 'Add database' }));
    expect(await screen.findByText(message, { selector: '.field-error' })).toBeInTheDocument();
    expect(screen.getByLabelText('Missed runs')).toHaveAttribute('aria-invalid', 'true');
  });

  it('removes the schedule with `schedule: null` when the field is emptied', async () => {
    const db = database({
      schedule: {
        cron: '0 3 * * *', timezone: 'Europe/Berlin', catch_up: 'latest', description: 'At 03:00. (Europe/Berlin)',
        since: '2025-01-01T00:00:00Z', next_run_at: '2025-01-02T02:00:00Z', next_run_at_local: '2025-01-02T03:00:00+01:00',
      },
      retention: {},
    });
    const calls = previewServer((c) => (c.method === 'PATCH' ? { status: 200, body: { ...db, schedule: null } } : undefined));
    renderWithClient(<DatabaseFormFields existing={db} />);
    // The saved schedule is previewed straight away.
    expect(await screen.findByText('Every day at 03:00 (Europe/Berlin)')).toBeInTheDocument();
    await userEvent.clear(screen.getByLabelText('Schedule (cron)'));
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'PATCH')).toBe(true));
    expect(calls.find((c) => c.method === 'PATCH')!.body).toEqual({ schedule: null });
  });
});

describe('Retention fields', () => {
  it('flags negative and non-numeric values at the field and does not send the form', async () => {
    const calls = previewServer();
    renderWithClient(<DatabaseFormFields />);
    await fillBasics();
    const last = screen.getByLabelText('Keep last');
    await userEvent.type(last, '-1');
    expect(last).toHaveAttribute('aria-invalid', 'true');
    expect(last).toHaveAccessibleDescription('must not be negative');
    const daily = screen.getByLabelText('Daily');
    await userEvent.type(daily, '7.5');
    expect(daily).toHaveAccessibleDescription('must be a whole number');
    const floor = screen.getByLabelText('Never fewer than');
    await userEvent.type(floor, '0');
    expect(floor).toHaveAccessibleDescription(/must be at least 1/);
    expect(screen.getByTestId('retention-summary')).toHaveTextContent('Fix the highlighted numbers.');

    await userEvent.click(screen.getByRole('button', { name: 'Add database' }));
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
    expect(last).toHaveFocus();
  });

  it('sends only the filled-in rules and describes the policy in words', async () => {
    const calls = previewServer((c) => (c.method === 'POST' ? { status: 201, body: database() } : undefined));
    renderWithClient(<DatabaseFormFields />);
    await fillBasics();
    await userEvent.type(screen.getByLabelText('Keep last'), '7');
    await userEvent.type(screen.getByLabelText('Weekly'), '4');
    await userEvent.type(screen.getByLabelText('Never fewer than'), '2');
    expect(screen.getByTestId('retention-summary')).toHaveTextContent('Keeps the last 7; 4 weekly — and never fewer than 2.');
    await userEvent.click(screen.getByRole('button', { name: 'Add database' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    expect((calls.find((c) => c.method === 'POST')!.body as { retention: unknown }).retention).toEqual({
      keep_last: 7, keep_weekly: 4, min_keep: 2,
    });
  });

  it("shows the server's retention error at the field it names, even when it only says so in `detail`", async () => {
    // What the server answers for a body it cannot deserialize: no errors[], the path is in detail.
    const detail =
      'invalid request body: Failed to deserialize the JSON body into the target type: retention.keep_yearly: invalid value: integer `99999999999`, expected u32 at line 1 column 119';
    previewServer((c) => (c.method === 'POST' ? { status: 422, body: { title: 'Unprocessable Entity', status: 422, detail } } : undefined));
    renderWithClient(<DatabaseFormFields />);
    await fillBasics();
    const yearly = screen.getByLabelText('Yearly');
    await userEvent.type(yearly, '99999999');
    await userEvent.click(screen.getByRole('button', { name: 'Add database' }));
    await waitFor(() => expect(yearly).toHaveAttribute('aria-invalid', 'true'));
    expect(yearly).toHaveAccessibleDescription('invalid value: integer `99999999999`, expected u32');
    // Editing the field clears the stale server message.
    await userEvent.type(yearly, '{Backspace}');
    expect(yearly).not.toHaveAttribute('aria-invalid');
  });

  it('sends an empty policy when every rule is cleared on edit (keep everything)', async () => {
    const db = database({ retention: { keep_last: 3 } });
    const calls = previewServer((c) => (c.method === 'PATCH' ? { status: 200, body: { ...db, retention: {} } } : undefined));
    renderWithClient(<DatabaseFormFields existing={db} />);
    expect(screen.getByLabelText('Keep last')).toHaveValue('3');
    await userEvent.clear(screen.getByLabelText('Keep last'));
    expect(screen.getByTestId('retention-summary')).toHaveTextContent('Keeps every version');
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'PATCH')).toBe(true));
    expect(calls.find((c) => c.method === 'PATCH')!.body).toEqual({ retention: {} });
  });
});
