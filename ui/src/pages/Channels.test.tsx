import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Channels } from './Channels';
import type { Channel } from '../api';
import { stubFetch } from '../test/fetchStub';
import { channel } from '../test/fixtures';
import { renderWithClient } from '../test/render';

describe('Channels page', () => {
  it('shows validation errors from problem+json next to their fields', async () => {
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/channels' && c.method === 'GET') return { status: 200, body: { items: [] } };
      if (c.path === '/api/v1/channels' && c.method === 'POST') {
        const body = c.body as { type: string; url?: string };
        if (body.type === 'webhook')
          return {
            status: 422,
            body: {
              type: 'about:blank', title: 'Unprocessable Entity', status: 422,
              detail: 'webhook url "ftp://x" is not an http(s) URL',
              errors: [{ field: 'url', message: 'webhook url "ftp://x" is not an http(s) URL' }],
            },
          };
        // No field named: a general error.
        return { status: 422, body: { title: 'Unprocessable Entity', status: 422, detail: 'email is not configured on this server' } };
      }
      return undefined;
    });
    renderWithClient(<Channels />);
    expect(await screen.findByText(/No channels yet/)).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText('Name'), 'ops');
    await userEvent.selectOptions(screen.getByLabelText('Style'), 'generic');
    await userEvent.type(screen.getByLabelText('Webhook URL'), 'ftp://x');
    await userEvent.click(screen.getByRole('button', { name: 'Add channel' }));

    const url = screen.getByLabelText('Webhook URL');
    await waitFor(() => expect(url).toHaveAttribute('aria-invalid', 'true'));
    expect(url).toHaveAccessibleDescription('webhook url "ftp://x" is not an http(s) URL');
    expect(url).toHaveFocus();
    expect(screen.getByLabelText('Name')).not.toHaveAttribute('aria-invalid');
    // Shown next to the field only, not repeated in a banner.
    expect(screen.queryByRole('alert')).toBeNull();
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ name: 'ops', type: 'webhook', style: 'generic', url: 'ftp://x' });

    // Editing the field clears its error.
    await userEvent.type(url, 'y');
    expect(url).not.toHaveAttribute('aria-invalid');

    await userEvent.click(screen.getByLabelText('Email'));
    await userEvent.type(screen.getByLabelText('Recipients'), 'a@example.com, b@example.com');
    await userEvent.click(screen.getByRole('button', { name: 'Add channel' }));
    const general = await screen.findByRole('alert');
    expect(general).toHaveTextContent('email is not configured on this server');
    // At the top of the form, where the focus goes.
    expect(screen.getByRole('form', { name: 'Add a channel' }).children[1]).toBe(screen.getByTestId('form-error'));
    expect(screen.getByTestId('form-error')).toHaveFocus();
    expect(calls.filter((c) => c.method === 'POST').at(-1)!.body).toEqual({ name: 'ops', type: 'email', to: ['a@example.com', 'b@example.com'] });
  });

  it.each([
    ['a type field error', { title: 'Unprocessable Entity', status: 422, detail: 'email needs BACKLINE_SMTP_URL', errors: [{ field: 'type', message: 'email channels need BACKLINE_SMTP_URL set on the server' }] }, 'email channels need BACKLINE_SMTP_URL set on the server'],
    ['a detail naming BACKLINE_SMTP_URL', { title: 'Unprocessable Entity', status: 422, detail: 'email is not configured: set BACKLINE_SMTP_URL on the server' }, 'email is not configured: set BACKLINE_SMTP_URL on the server'],
  ])('shows that email is not set up beside the type choice, given %s', async (_what, problem, message) => {
    stubFetch((c) => {
      if (c.path === '/api/v1/channels' && c.method === 'GET') return { status: 200, body: { items: [] } };
      if (c.path === '/api/v1/channels' && c.method === 'POST') return { status: 422, body: problem };
      return undefined;
    });
    renderWithClient(<Channels />);
    await screen.findByText(/No channels yet/);
    await userEvent.type(screen.getByLabelText('Name'), 'ops-mail');
    await userEvent.click(screen.getByLabelText('Email'));
    await userEvent.type(screen.getByLabelText('Recipients'), 'ops@example.com');
    await userEvent.click(screen.getByRole('button', { name: 'Add channel' }));
    const email = screen.getByLabelText('Email');
    await waitFor(() => expect(email).toHaveAccessibleDescription(message));
    expect(email).toHaveFocus();
    expect(screen.getByRole('group', { name: 'Type' })).toHaveAccessibleDescription(message);
    expect(screen.queryByRole('alert')).toBeNull();
    // Choosing a webhook instead clears it (and no banner takes its place).
    await userEvent.click(screen.getByLabelText(/Webhook/));
    expect(screen.queryByText(message)).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('offers Telegram, Teams, ntfy, Mattermost and Gotify with the fields each needs', async () => {
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/channels' && c.method === 'GET') return { status: 200, body: { items: [] } };
      if (c.path === '/api/v1/channels' && c.method === 'POST') {
        const body = c.body as { style?: string };
        if (body.style === 'telegram')
          return {
            status: 422,
            body: { title: 'Unprocessable Entity', status: 422, detail: 'bad chat', errors: [{ field: 'chat_id', message: 'chat_id "12ab" is neither a number nor @channelname' }] },
          };
        return { status: 201, body: channel({ id: 'n1', name: 'push', style: 'ntfy', url: 'https://ntfy.sh/***', priority: 5, token_set: true }) };
      }
      return undefined;
    });
    renderWithClient(<Channels />);
    expect(await screen.findByText(/No channels yet/)).toBeInTheDocument();
    const styles = within(screen.getByLabelText('Style')).getAllByRole('option').map((o) => o.textContent);
    expect(styles).toEqual(expect.arrayContaining(['Telegram', 'Microsoft Teams (workflow)', 'ntfy', 'Mattermost', 'Gotify']));

    await userEvent.type(screen.getByLabelText('Name'), 'tg');
    await userEvent.selectOptions(screen.getByLabelText('Style'), 'telegram');
    expect(screen.queryByLabelText(/Priority/)).toBeNull();
    await userEvent.type(screen.getByLabelText('Bot token'), '123:AA');
    await userEvent.type(screen.getByLabelText('Chat id'), '12ab');
    await userEvent.click(screen.getByRole('button', { name: 'Add channel' }));
    const chat = screen.getByLabelText('Chat id');
    await waitFor(() => expect(chat).toHaveAttribute('aria-invalid', 'true'));
    expect(chat).toHaveFocus();
    // No URL typed: Telegram's own API is used; the token goes as `token`.
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ name: 'tg', type: 'webhook', style: 'telegram', token: '123:AA', chat_id: '12ab' });

    await userEvent.selectOptions(screen.getByLabelText('Style'), 'ntfy');
    expect(screen.queryByLabelText('Chat id')).toBeNull();
    await userEvent.type(screen.getByLabelText('Topic URL'), 'https://ntfy.sh/backline');
    await userEvent.type(screen.getByLabelText('Priority (optional)'), '5');
    await userEvent.click(screen.getByRole('button', { name: 'Add channel' }));
    await waitFor(() => expect(calls.filter((c) => c.method === 'POST')).toHaveLength(2));
    expect(calls.filter((c) => c.method === 'POST')[1]!.body).toEqual({ name: 'tg', type: 'webhook', style: 'ntfy', url: 'https://ntfy.sh/backline', priority: 5 });
  });

  it('shows a generic webhook secret once after creation, then never again', async () => {
    let items: Channel[] = [];
    stubFetch((c) => {
      if (c.path === '/api/v1/channels' && c.method === 'GET') return { status: 200, body: { items } };
      if (c.path === '/api/v1/channels' && c.method === 'POST') {
        const made = channel({ id: 'ch-9', name: 'receiver', url: 'http://127.0.0.1:9999/***' });
        items = [made];
        return { status: 201, body: { ...made, secret: 's3cr3t-shown-once' } };
      }
      if (c.path === '/api/v1/channels/ch-9/test') return { status: 200, body: { ok: true, status_code: 200, error: null } };
      return undefined;
    });
    const { client } = renderWithClient(<Channels />);
    await screen.findByText(/No channels yet/);
    await userEvent.type(screen.getByLabelText('Name'), 'receiver');
    await userEvent.selectOptions(screen.getByLabelText('Style'), 'generic');
    await userEvent.type(screen.getByLabelText('Webhook URL'), 'http://127.0.0.1:9999/hook');
    await userEvent.click(screen.getByRole('button', { name: 'Add channel' }));

    const once = await screen.findByTestId('secret-once');
    expect(once).toHaveTextContent('shown only this once');
    expect(screen.getByLabelText('Signing secret')).toHaveValue('s3cr3t-shown-once');
    // The secret is not kept with the channel list.
    expect(JSON.stringify(client.getQueryData(['channels']))).not.toContain('s3cr3t');
    const card = await screen.findByTestId('channel');
    expect(card).toHaveTextContent('receiver');
    expect(card).not.toHaveTextContent('s3cr3t');
    // The form was cleared for the next one.
    expect(screen.getByLabelText('Name')).toHaveValue('');

    await userEvent.click(screen.getByRole('button', { name: 'I have copied it' }));
    expect(screen.queryByTestId('secret-once')).toBeNull();
    expect(screen.queryByText(/s3cr3t/)).toBeNull();
    await client.refetchQueries({ queryKey: ['channels'] });
    expect(screen.queryByDisplayValue(/s3cr3t/)).toBeNull();

    await userEvent.click(within(card).getByRole('button', { name: 'Send test' }));
    expect(await within(card).findByText('✓ Test delivered (HTTP 200)')).toBeInTheDocument();
  });

  it('removes a channel only after confirming, and shows a failing one with its last error', async () => {
    let items: Channel[] = [
      channel({ failing: true, consecutive_failures: 3, deliveries_failed: 3, last_error: 'cannot reach the webhook: http://10.0.0.1/hooks/abc?token=zzz refused', last_error_at: '2025-03-04T05:00:00Z' }),
    ];
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/channels' && c.method === 'GET') return { status: 200, body: { items } };
      if (c.method === 'DELETE' && c.path === '/api/v1/channels/ch-1') {
        items = [];
        return { status: 204 };
      }
      return undefined;
    });
    renderWithClient(<Channels />);
    const card = await screen.findByTestId('channel');
    expect(within(card).getByTestId('channel-failing')).toHaveTextContent('Failing');
    expect(within(card).getByTestId('channel-last-error')).toHaveTextContent('The last 3 deliveries failed.');
    expect(within(card).getByTestId('channel-last-error')).not.toHaveTextContent('zzz');

    await userEvent.click(within(card).getByRole('button', { name: 'Remove…' }));
    const confirm = within(card).getByRole('button', { name: 'Remove channel' });
    expect(confirm).toHaveFocus();
    await userEvent.click(within(card).getByRole('button', { name: 'Cancel' }));
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);

    await userEvent.click(within(card).getByRole('button', { name: 'Remove…' }));
    await userEvent.keyboard('{Enter}');
    expect(await screen.findByText(/No channels yet/)).toBeInTheDocument();
    expect(calls.some((c) => c.method === 'DELETE' && c.path === '/api/v1/channels/ch-1')).toBe(true);
  });

  it('counts failed deliveries in the singular for one', async () => {
    stubFetch((c) =>
      c.path === '/api/v1/channels'
        ? { status: 200, body: { items: [channel({ failing: true, consecutive_failures: 1, deliveries_failed: 1, last_error: 'HTTP 500' })] } }
        : undefined,
    );
    renderWithClient(<Channels />);
    const card = await screen.findByTestId('channel');
    expect(within(card).getByTestId('channel-last-error')).toHaveTextContent('The last delivery failed.');
  });
});
