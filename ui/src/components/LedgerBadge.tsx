import { useQuery } from '@tanstack/react-query';
import { api } from '../api';
import { Time } from './Time';

/**
 * How far the ledger is sealed and what its last verification found: "Sealed to #1203 · 2 min ago"
 * and "Verified 3 h ago" (or "Does not verify at #417"), from GET /api/v1/ledger.
 */
export function LedgerBadge() {
  const ledger = useQuery({ queryKey: ['ledger'], queryFn: api.ledger, refetchInterval: 30_000 });
  const l = ledger.data;
  if (!l) return null;
  const v = l.last_verification;
  const keyTitle = `Signed with Ed25519 public key ${l.public_key}`;
  return (
    <span className="ledger-badges" data-testid="ledger-badge">
      {l.blocks > 0 ? (
        <span className="badge badge-verified" title={keyTitle} data-sealed-to={l.sealed_to}>
          Sealed to #{l.sealed_to} · <Time iso={l.last_sealed_at} relative />
        </span>
      ) : (
        <span className="badge badge-never" title={keyTitle}>
          Not sealed yet
        </span>
      )}{' '}
      {v === null || v === undefined ? (
        <span className="badge badge-pruned" title="Run `backline ledger verify`, or wait for the daily check">
          Not verified yet
        </span>
      ) : v.ok ? (
        <span className="badge badge-verified" data-verified="ok" title={`${v.sealed} events in ${v.blocks} blocks, ${v.anchors} anchors`}>
          Verified <Time iso={v.verified_at} relative />
        </span>
      ) : (
        <span className="badge badge-verify-failed" data-verified="failed" title={v.problems.map((p) => p.message).join('\n')}>
          Does not verify at #{v.first_bad_position} · <Time iso={v.verified_at} relative />
        </span>
      )}
    </span>
  );
}
