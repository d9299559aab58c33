import { afterEach, describe, expect, it, vi } from 'vitest';
import { screen } from '@testing-library/react';
import { LedgerBadge } from './LedgerBadge';
import type { LedgerStatus, LedgerVerification } from '../api';
import { stubFetch } from '../test/fetchStub';
import { renderWithClient } from '../test/render';

const now = new Date().toISOString();

function verification(ok: boolean): LedgerVerification {
  return {
    ok, events: 14, sealed: 13, unsealed: 1, blocks: 2, anchors: 2, storages: 1,
    first_bad_position: ok ? null : 9,
    problems: ok ? [] : [{ position: 9, message: 'position 9: the event was edited or moved since block 7-13 sealed it' }],
    public_key: 'ab'.repeat(32), verified_at: now, duration_ms: 3,
  };
}

function status(last: LedgerVerification | null, blocks = 2): LedgerStatus {
  return { public_key: 'ab'.repeat(32), head: 14, blocks, sealed_to: blocks ? 13 : 0, last_sealed_at: blocks ? now : null, last_verification: last };
}

describe('LedgerBadge', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('shows how far the ledger is sealed and that it verified', async () => {
    stubFetch((c) => (c.path === '/api/v1/ledger' ? { status: 200, body: status(verification(true)) } : undefined));
    renderWithClient(<LedgerBadge />);
    expect(await screen.findByText(/Sealed to #13/)).toBeInTheDocument();
    const verified = screen.getByText(/Verified/);
    expect(verified).toHaveAttribute('data-verified', 'ok');
    expect(screen.getByText(/Sealed to #13/)).toHaveAttribute('title', `Signed with Ed25519 public key ${'ab'.repeat(32)}`);
  });

  it('names the first bad position when the last verification failed', async () => {
    stubFetch((c) => (c.path === '/api/v1/ledger' ? { status: 200, body: status(verification(false)) } : undefined));
    renderWithClient(<LedgerBadge />);
    const bad = await screen.findByText(/Does not verify at #9/);
    expect(bad).toHaveAttribute('data-verified', 'failed');
    expect(bad.getAttribute('title')).toContain('edited or moved');
  });

  it('says when nothing is sealed or verified yet', async () => {
    stubFetch((c) => (c.path === '/api/v1/ledger' ? { status: 200, body: status(null, 0) } : undefined));
    renderWithClient(<LedgerBadge />);
    expect(await screen.findByText('Not sealed yet')).toBeInTheDocument();
    expect(screen.getByText('Not verified yet')).toBeInTheDocument();
  });
});
