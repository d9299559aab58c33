// How the UI refers to a database or a version elsewhere than on its own page: by the database's
// name and the version's time (with its zone), never by a short id — UUIDv7 ids made in the same
// minute share their first characters. The full id stays in the link's title.
import { useQuery } from '@tanstack/react-query';
import { api, type Backup } from '../api';
import { Link } from '../router';
import { Time } from './Time';

/** The database's name (fetched when not given), linking to its page. */
export function DatabaseLink({ id, name }: { id: string; name?: string | null | undefined }) {
  const q = useQuery({
    queryKey: ['database', id],
    queryFn: () => api.getDatabase(id),
    enabled: !name,
    staleTime: 60_000,
  });
  const label = name || q.data?.name;
  return (
    <Link to={`/databases/${id}`} title={`Database id ${id}`} data-testid="database-ref">
      {label ?? (q.error ? 'a database that cannot be loaded' : '…')}
    </Link>
  );
}

/** A version as "orders, 2026-11-30 14:05:03 UTC" (fetched when not given), linking to its page. */
export function VersionLink({ id, backup }: { id: string; backup?: Backup | undefined }) {
  const q = useQuery({
    queryKey: ['backup', id],
    queryFn: () => api.getBackup(id),
    enabled: !backup,
    staleTime: 60_000,
  });
  const b = backup ?? q.data;
  return (
    <Link to={`/backups/${id}`} title={`Backup id ${id}`} data-testid="version-ref">
      {b ? (
        <>
          {b.database_name}, <Time iso={b.started_at} />
        </>
      ) : q.error ? (
        'a version that cannot be loaded'
      ) : (
        '…'
      )}
    </Link>
  );
}
