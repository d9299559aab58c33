import type { Alert, Backup, Channel, Database } from '../api';

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

export function alert(over: Partial<Alert> = {}): Alert {
  return {
    id: 'al-1',
    kind: 'backup_failed',
    state: 'open',
    database_id: '01900000-0000-7000-8000-000000000001',
    database_name: 'orders',
    message: 'cannot connect to PostgreSQL: database "orders" does not exist (connect stage)',
    detail: '',
    count: 3,
    cause_event: 8,
    raised_at: '2025-03-04T05:06:07Z',
    raised_position: 9,
    last_seen_at: '2025-03-04T06:00:00Z',
    acknowledged_at: null,
    acknowledged_by: null,
    resolved_at: null,
    resolved_position: null,
    resolved_by: null,
    deliveries: [],
    ...over,
  };
}

export function channel(over: Partial<Channel> = {}): Channel {
  return {
    id: 'ch-1',
    name: 'ops-hook',
    type: 'webhook',
    to: [],
    style: 'generic',
    url: 'https://hooks.example.com/backline/***',
    signed: true,
    status: 'active',
    created_at: '2025-03-01T00:00:00Z',
    created_position: 1,
    removed_at: null,
    deliveries_ok: 0,
    deliveries_failed: 0,
    consecutive_failures: 0,
    failing: false,
    last_error: null,
    last_error_at: null,
    last_delivered_at: null,
    last_test: null,
    ...over,
  };
}
