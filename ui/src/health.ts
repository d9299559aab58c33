import type { Database } from './api';

export type Health = 'failed' | 'abandoned' | 'cancelled' | 'running' | 'completed' | 'never';

/** The one word the dashboard shows for a database: how its last backup went. */
export function healthOf(db: Database): Health {
  if (db.running_backup_id) return 'running';
  const last = db.last_backup;
  if (!last) return 'never';
  // A pruned last version was good once; min_keep means a newer good one normally exists anyway.
  return last.status === 'pruned' ? 'completed' : last.status;
}

/** Failing (needs attention first) sorts before running, never-backed-up and healthy databases. */
export function healthRank(h: Health): number {
  return { failed: 0, abandoned: 1, cancelled: 2, never: 3, running: 4, completed: 5 }[h];
}
