import { useQuery } from '@tanstack/react-query';
import { api } from '../api';
import { Link } from '../router';
import { Time } from './Time';
import { useAccess } from '../access';

/**
 * Scratch databases crashed restores left on their targets' servers: each holds a full copy of a
 * backup's data, and nothing drops them on its own.
 */
export function LeftoversNotice() {
  // Scratch databases name any database: only for principals that see them all.
  const { session, deny } = useAccess();
  const leftovers = useQuery({
    queryKey: ['leftovers'],
    queryFn: api.listLeftovers,
    refetchInterval: 60_000,
    enabled: !!session && !deny('see-all'),
  });
  const items = leftovers.data ?? [];
  if (items.length === 0) return null;
  return (
    <div className="alert alert-warn" role="note" data-testid="leftovers-notice">
      <p>
        <strong>
          {items.length === 1
            ? '1 scratch database was left by a restore that did not finish.'
            : `${items.length} scratch databases were left by restores that did not finish.`}
        </strong>{' '}
        Each holds a full copy of a backup&apos;s data. Drop them with <code>backline cleanup --scratch</code>.
      </p>
      <ul>
        {items.map((l) => (
          <li key={l.restore_id}>
            <code>{l.scratch_database}</code> on {l.server}, from the restore into{' '}
            <Link to={`/databases/${l.target_database_id}`}>{l.target_database_name}</Link> started{' '}
            <Time iso={l.restore_started_at} />
          </li>
        ))}
      </ul>
    </div>
  );
}
