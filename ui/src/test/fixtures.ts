import type { Backup, Database } from '../api';

export function database(over: Partial<Database> = {}): Database {
  return {
    id: '01900000-0000-7000-8000-000000000001',
    name: 'orders',
    engine: 'postgres',
    connection: 'postgres://app:***@db:5432/orders',
    status: 'active',
    created_at: '2025-01-01T10:00:00Z',
    updated_at: '2025-01-01T10:00:00Z',
    last_backup: null,
    last_successful_backup_at: null,
    backups_total: 0,
    backups_completed: 0,
    backups_failed: 0,
    restores_total: 0,
    running_backup_id: null,
    ...over,
  };
}

export function backup(over: Partial<Backup> = {}): Backup {
  return {
    id: '01900000-0000-7000-8000-0000000000b1',
    database_id: '01900000-0000-7000-8000-000000000001',
    database_name: 'orders',
    engine: 'postgres',
    status: 'completed',
    trigger: 'manual',
    actor: 'admin',
    started_at: '2025-01-02T03:04:05Z',
    finished_at: '2025-01-02T03:04:07Z',
    duration_ms: 2000,
    bytes: 2048,
    raw_bytes: 10240,
    sha256: 'ab'.repeat(32),
    storage: 'local',
    storage_key: 'x',
    compression: 'zstd',
    tool: 'pg_dump',
    tool_version: '15.20',
    server_version: '15.20',
    node: 'n1',
    error: null,
    ...over,
  };
}
