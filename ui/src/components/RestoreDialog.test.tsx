import { describe, expect, it, vi } from 'vitest';
import { useState } from 'react';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { RestoreDialog } from './RestoreDialog';
import { ConfirmByName } from './ConfirmByName';
import { stubFetch } from '../test/fetchStub';
import { backup, database } from '../test/fixtures';
import { renderWithClient } from '../test/render';

describe('ConfirmByName', () => {
  it('keeps the button disabled until the typed name matches exactly', async () => {
    const onConfirm = vi.fn();
    renderWithClient(<ConfirmByName name="orders" action="Restore" onConfirm={onConfirm} />);
    const button = screen.getByRole('button', { name: 'Restore' });
    const input = screen.getByRole('textbox');
    expect(button).toBeDisabled();
    await userEvent.type(input, 'Orders');
    expect(button).toBeDisabled();
    await userEvent.clear(input);
    await userEvent.type(input, 'order');
    expect(button).toBeDisabled();
    await userEvent.type(input, '{Enter}');
    expect(onConfirm).not.toHaveBeenCalled();
    await userEvent.type(input, 's');
    expect(button).toBeEnabled();
    await userEvent.type(input, '{Enter}');
    expect(onConfirm).toHaveBeenCalledTimes(1);
  });

  it('while it cannot start (disabled) keeps its label, unlike while it runs (busy)', async () => {
    const onConfirm = vi.fn();
    const { rerender } = renderWithClient(<ConfirmByName name="orders" action="Restore" disabled onConfirm={onConfirm} />);
    const input = screen.getByRole('textbox');
    await userEvent.type(input, 'orders{Enter}');
    expect(screen.getByRole('button', { name: 'Restore' })).toBeDisabled();
    expect(onConfirm).not.toHaveBeenCalled();
    rerender(<ConfirmByName name="orders" action="Restore" busy onConfirm={onConfirm} />);
    expect(screen.getByRole('button', { name: 'Restore…' })).toBeDisabled();
    rerender(<ConfirmByName name="orders" action="Restore" onConfirm={onConfirm} />);
    // (rerender outside the query provider mounts afresh: type the name again)
    await userEvent.clear(screen.getByRole('textbox'));
    await userEvent.type(screen.getByRole('textbox'), 'orders');
    await userEvent.click(screen.getByRole('button', { name: 'Restore' }));
    expect(onConfirm).toHaveBeenCalledTimes(1);
  });
});

describe('RestoreDialog', () => {
  const source = database();
  const other = database({ id: 'target-id', name: 'orders_copy' });
  const mysql = database({ id: 'my', name: 'shop', engine: 'mysql' });

  it('offers only databases of the same engine and needs the target name typed', async () => {
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/databases') return { status: 200, body: { items: [source, other, mysql] } };
      if (c.path.endsWith('/restore')) return { status: 202, body: { id: 'r1' } };
      if (c.path === '/api/v1/restores/r1')
        return {
          status: 200,
          body: {
            id: 'r1', backup_id: 'b', source_database_id: source.id, target_database_id: other.id, target_database_name: 'orders_copy',
            engine: 'postgres', status: 'completed', actor: 'admin', started_at: '2025-01-01T00:00:00Z',
            finished_at: '2025-01-01T00:00:03Z', duration_ms: 3000, previous_kept_as: null, error: null,
          },
        };
      return undefined;
    });
    renderWithClient(<RestoreDialog backup={backup()} source={source} onClose={() => {}} />);
    const select = await screen.findByLabelText('Restore into');
    await screen.findByRole('option', { name: 'orders_copy' });
    expect(screen.queryByRole('option', { name: 'shop' })).toBeNull();

    const restore = screen.getByRole('button', { name: 'Restore' });
    const confirm = screen.getByLabelText(/type the target database's name/);
    await userEvent.type(confirm, 'orders');
    expect(restore).toBeEnabled();

    // Choosing another target asks for *its* name: the old confirmation no longer counts.
    await userEvent.selectOptions(select, 'target-id');
    expect(screen.getByRole('button', { name: 'Restore' })).toBeDisabled();
    await userEvent.type(screen.getByLabelText(/type the target database's name/), 'orders');
    expect(screen.getByRole('button', { name: 'Restore' })).toBeDisabled();
    await userEvent.type(screen.getByLabelText(/type the target database's name/), '_copy');
    await userEvent.click(screen.getByRole('button', { name: 'Restore' }));

    expect(await screen.findByText(/Restored into orders_copy in 3.0 s/)).toBeInTheDocument();
    const post = calls.find((c) => c.method === 'POST');
    expect(post?.path).toBe(`/api/v1/backups/${backup().id}/restore`);
    expect(post?.body).toEqual({ target_database_id: 'target-id' });
  });

  it('sends no_owner only when "Skip ownership and grants" is ticked, and offers it for PostgreSQL only', async () => {
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/databases') return { status: 200, body: { items: [source] } };
      if (c.path.endsWith('/restore')) return { status: 202, body: { id: 'r2' } };
      return undefined;
    });
    renderWithClient(<RestoreDialog backup={backup()} source={source} onClose={() => {}} />);
    const box = await screen.findByRole('checkbox', { name: /Skip ownership and grants/ });
    expect(box).not.toBeChecked();
    await userEvent.click(box);
    await userEvent.type(screen.getByLabelText(/type the target database's name/), source.name);
    await userEvent.click(screen.getByRole('button', { name: 'Restore' }));
    await vi.waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ no_owner: true });
  });

  it('has no ownership option for MySQL/MariaDB', async () => {
    stubFetch(() => ({ status: 200, body: { items: [mysql] } }));
    renderWithClient(<RestoreDialog backup={backup({ engine: 'mysql', database_id: 'my' })} source={mysql} onClose={() => {}} />);
    await screen.findByLabelText('Restore into');
    expect(screen.queryByRole('checkbox', { name: /Skip ownership/ })).toBeNull();
    expect(screen.getByRole('checkbox', { name: /Make the restoring user the definer/ })).not.toBeChecked();
  });

  it('restores into a new database on the server of a registered one, without typing a name to confirm', async () => {
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/databases') return { status: 200, body: { items: [source, other] } };
      if (c.path.endsWith('/restore')) return { status: 202, body: { id: 'r3' } };
      return undefined;
    });
    renderWithClient(<RestoreDialog backup={backup()} source={source} onClose={() => {}} />);
    const select = await screen.findByLabelText('Restore into');
    await screen.findByRole('option', { name: 'orders_copy' });
    await userEvent.selectOptions(select, 'A new database…');
    expect(screen.queryByLabelText(/type the target database's name/)).toBeNull();
    const go = screen.getByRole('button', { name: 'Restore into a new database' });
    expect(go).toBeDisabled();
    const name = screen.getByLabelText('New database name');
    await userEvent.type(name, 'bad name');
    expect(go).toBeDisabled();
    expect(name).toHaveAttribute('aria-invalid', 'true');
    await userEvent.clear(name);
    await userEvent.type(name, 'orders_2024');
    await userEvent.selectOptions(screen.getByLabelText('On the server of'), 'target-id');
    await userEvent.click(go);
    await vi.waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      new_database: { name: 'orders_2024', server_of: 'target-id' },
    });
  });

  it('offers "Make the restoring user the definer" for MySQL/MariaDB and sends no_definer', async () => {
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/databases') return { status: 200, body: { items: [mysql] } };
      if (c.path.endsWith('/restore')) return { status: 202, body: { id: 'r4' } };
      return undefined;
    });
    renderWithClient(<RestoreDialog backup={backup({ engine: 'mysql', database_id: 'my' })} source={mysql} onClose={() => {}} />);
    await userEvent.click(await screen.findByRole('checkbox', { name: /Make the restoring user the definer/ }));
    await userEvent.type(screen.getByLabelText(/type the target database's name/), 'shop');
    await userEvent.click(screen.getByRole('button', { name: 'Restore' }));
    await vi.waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ no_definer: true });
  });

  it('warns before restoring a version whose last verification failed', async () => {
    stubFetch(() => ({ status: 200, body: { items: [source] } }));
    const { unmount } = renderWithClient(
      <RestoreDialog backup={backup({ verified_ok: false, verification_detail: 'sha256 mismatch' })} source={source} onClose={() => {}} />,
    );
    expect(await screen.findByRole('alert')).toHaveTextContent(/last verification of this version failed: sha256 mismatch/);
    unmount();
    renderWithClient(<RestoreDialog backup={backup({ verified_ok: true })} source={source} onClose={() => {}} />);
    await screen.findByLabelText('Restore into');
    expect(screen.queryByText(/last verification of this version failed/)).toBeNull();
  });

  it('closes on Escape', async () => {
    stubFetch(() => ({ status: 200, body: { items: [source] } }));
    const onClose = vi.fn();
    renderWithClient(<RestoreDialog backup={backup()} source={source} onClose={onClose} />);
    await userEvent.keyboard('{Escape}');
    expect(onClose).toHaveBeenCalled();
  });

  it('takes the focus, keeps Tab inside, and gives the focus back when closed', async () => {
    stubFetch(() => ({ status: 200, body: { items: [source] } }));
    function Harness() {
      const [open, setOpen] = useState(false);
      return (
        <>
          <button type="button" onClick={() => setOpen(true)}>
            Restore…
          </button>
          {open && <RestoreDialog backup={backup()} source={source} onClose={() => setOpen(false)} />}
        </>
      );
    }
    renderWithClient(<Harness />);
    const opener = screen.getByRole('button', { name: 'Restore…' });
    await userEvent.click(opener);
    const dialog = screen.getByRole('dialog');
    expect(dialog).toHaveAccessibleName('Restore version');
    expect(screen.getByLabelText('Restore into')).toHaveFocus();
    // Shift+Tab from the first control goes to the last (Cancel); Tab from there back to the first.
    await userEvent.tab({ shift: true });
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await userEvent.tab();
    expect(screen.getByLabelText('Restore into')).toHaveFocus();
    for (let i = 0; i < 8; i++) {
      await userEvent.tab();
      expect(dialog.contains(document.activeElement)).toBe(true);
    }
    await userEvent.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(opener).toHaveFocus();
  });
});
