// What the signed-in principal may do, from GET /api/v1/session (its role and database scope), in
// one place: every control a role cannot use asks `deny(action)` and is hidden or disabled with
// the reason it returns. The server checks every request anyway (api/src/http/roles.rs); this
// only keeps the UI from offering what would be refused.
import { useQuery } from '@tanstack/react-query';
import { api, type Database, type Role, type SessionView } from './api';

export type Action =
  | 'backup'
  | 'verify'
  | 'pin'
  | 'acknowledge'
  | 'test'
  | 'restore'
  | 'manage'
  | 'add-database'
  | 'channels'
  | 'servers'
  | 'see-all'
  | 'users'
  | 'tokens'
  | 'verify-ledger';

interface Need {
  role: Role;
  /** Only for principals that see every database. */
  all?: boolean;
  what: string;
}

const NEEDS: Record<Action, Need> = {
  backup: { role: 'operator', what: 'Starting a backup' },
  verify: { role: 'operator', what: 'Verifying a version' },
  pin: { role: 'operator', what: 'Pinning a version' },
  acknowledge: { role: 'operator', what: 'Acknowledging an alert' },
  test: { role: 'operator', what: 'Testing the connection' },
  restore: { role: 'operator', what: 'Restoring' },
  manage: { role: 'admin', what: 'Changing a database' },
  'add-database': { role: 'admin', all: true, what: 'Adding a database' },
  channels: { role: 'admin', all: true, what: 'Changing alert channels' },
  servers: { role: 'admin', all: true, what: 'Adding or changing servers' },
  'see-all': { role: 'viewer', all: true, what: 'This' },
  users: { role: 'admin', all: true, what: 'Managing users' },
  tokens: { role: 'admin', what: 'Issuing tokens' },
  'verify-ledger': { role: 'admin', all: true, what: 'Verifying the whole ledger' },
};

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function roleAtLeast(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** Why `session` may not do `action` (on `db`, for restores), or null when it may. Unknown: null. */
export function denial(session: SessionView | undefined, action: Action, db?: Pick<Database, 'name' | 'restore_target'>): string | null {
  // Not known (yet): the server decides, as it does anyway.
  if (!session || !(session.role in RANK)) return null;
  const need = NEEDS[action];
  if (!roleAtLeast(session.role, need.role)) {
    return `${need.what} needs the ${need.role} role; you are ${session.role === 'viewer' ? 'a' : 'an'} ${session.role}.`;
  }
  if (need.all && session.databases) {
    return `${need.what} needs access to every database; you are limited to ${session.databases.join(', ')}.`;
  }
  if (action === 'restore' && session.role === 'operator' && db && !db.restore_target) {
    return `Operators restore only into databases flagged as restore targets, and ${db.name} is not one: ask an admin.`;
  }
  return null;
}

/**
 * Why `session` may not restore a version of `source` anywhere (the dialog then lets it choose
 * among the targets it may use), or null. Operators need a restore target of the same engine.
 */
export function restoreDenial(session: SessionView | undefined, source: Pick<Database, 'engine'>, all: Database[] | undefined): string | null {
  const plain = denial(session, 'restore');
  if (plain || !session || session.role !== 'operator' || !all) return plain;
  const any = all.some((d) => d.engine === source.engine && d.status === 'active' && d.restore_target);
  return any ? null : 'Operators restore only into databases flagged as restore targets, and none of this engine is: ask an admin.';
}

/** The current principal and `deny(action, db?)`: the reason it may not, or null. */
export function useAccess() {
  const q = useQuery({ queryKey: ['session'], queryFn: () => api.session(), staleTime: 60_000 });
  const session = q.data;
  return {
    session,
    deny: (action: Action, db?: Pick<Database, 'name' | 'restore_target'>) => denial(session, action, db),
  };
}
