import { describe, expect, it } from 'vitest';
import type { LedgerEvent } from './api';
import { describeEvent, eventLinks, eventTone } from './eventText';

function ev(type: string, payload: Record<string, unknown>, over: Partial<LedgerEvent> = {}): LedgerEvent {
  return {
    position: 7, type, aggregate_type: 'Backup', aggregate_id: 'b1', sequence: 2, database_id: 'd1',
    at: '2025-01-01T00:00:00Z', actor: 'admin', correlation_id: 'c1', node: 'n1', payload, ...over,
  };
}

describe('event descriptions', () => {
  it('describes completions and failures from their payload', () => {
    expect(describeEvent(ev('BackupCompleted', { bytes: 2048, duration_ms: 1500 }))).toBe('Backup completed: 2.0 KiB stored in 1.5 s');
    expect(describeEvent(ev('BackupFailed', { stage: 'dump', message: 'pg_dump exited 1' }))).toBe('Backup failed at dump: pg_dump exited 1');
    expect(describeEvent(ev('DatabaseRegistered', { name: 'orders', engine: 'postgres' }))).toBe('Database registered: orders (postgres)');
  });
  it('describes WAL archiving, base backups and their retention', () => {
    expect(
      describeEvent(ev('WalArchived', { timeline: 1, segments: [{ name: '000000010000000000000002', bytes: 1024 }] })),
    ).toBe('WAL segment 000000010000000000000002 archived (1.0 KiB)');
    expect(describeEvent(ev('WalArchived', { segments: [{ bytes: 1024 }, { bytes: 1024 }] }))).toBe('2 WAL segments archived (2.0 KiB)');
    expect(
      describeEvent(ev('WalPruned', { before: '000000010000000000000009', segments: 7, bytes: 10, policy: 'keep_base_backups=2' })),
    ).toBe('7 WAL segments pruned before 000000010000000000000009 (keep_base_backups=2)');
    expect(describeEvent(ev('BaseBackupPruned', { reason: 'older than base backup b2' }))).toBe('Base backup pruned: older than base backup b2');
    expect(describeEvent(ev('BaseBackupFailed', { stage: 'dump', message: 'no pg_hba entry' }))).toBe('Base backup failed at dump: no pg_hba entry');
    expect(eventTone('BaseBackupPruned')).toBe('bad');
    expect(eventTone('BaseBackupCompleted')).toBe('good');
  });
  it('counts in the singular and plural correctly', () => {
    expect(describeEvent(ev('AlertRepeated', { count: 2 }))).toBe('Alert repeated (2 times)');
    expect(describeEvent(ev('AlertRepeated', { count: 1 }))).toBe('Alert repeated (once)');
  });
  it('describes verification, deletion failures and destination changes', () => {
    expect(describeEvent(ev('BackupVerified', { ok: true, detail: 'sha256 ok' }))).toBe('Verified: sha256 ok');
    expect(describeEvent(ev('BackupVerified', { ok: false, detail: 'object missing' }))).toBe('Verification failed: object missing');
    expect(describeEvent(ev('BackupDeletionFailed', { error: 'access denied' }))).toBe(
      'Deleting a pruned version’s files failed: access denied (retried)',
    );
    expect(describeEvent(ev('DestinationsChanged', { destinations: ['local', 'offsite'] }))).toBe('Destinations set to local, offsite');
    expect(describeEvent(ev('DestinationsChanged', { destinations: null }))).toBe('Destinations set to every storage');
    expect(eventTone('BackupDeletionFailed')).toBe('bad');
  });
  it('describes restore drills', () => {
    expect(describeEvent(ev('RestoreDrillCompleted', { tables: [{}, {}], duration_ms: 42_000, anomalies: [] }))).toBe(
      'Restore drill passed: 2 tables, restored in 42 s',
    );
    expect(describeEvent(ev('RestoreDrillCompleted', { tables: [{}], duration_ms: 1500, anomalies: [{}, {}] }))).toBe(
      'Restore drill found 2 anomalies: 1 table, restored in 1.5 s',
    );
    expect(describeEvent(ev('RestoreDrillFailed', { stage: 'restore', message: 'pg_restore exited 1' }))).toBe(
      'Restore drill failed at restore: pg_restore exited 1',
    );
    expect(describeEvent(ev('DrillConfigured', { drill: null }))).toBe('Restore drill removed');
    expect(eventLinks(ev('RestoreDrillStarted', { version: 'b7' }, { aggregate_type: 'Drill', aggregate_id: 'x' })).backupId).toBe('b7');
  });
  it('colours failures and completions', () => {
    expect(eventTone('RestoreFailed')).toBe('bad');
    expect(eventTone('RestoreCompleted')).toBe('good');
    expect(eventTone('BackupStarted')).toBe('neutral');
  });
  it('links an event to what it concerns', () => {
    expect(eventLinks(ev('RestoreStarted', { backup_id: 'b9' }, { aggregate_type: 'Restore', aggregate_id: 'r1' }))).toEqual({
      databaseId: 'd1', backupId: 'b9', restoreId: 'r1', alertId: null, channelId: null,
    });
    expect(eventLinks(ev('AlertNotified', { channel_id: 'c7', outcome: 'delivered' }, { aggregate_type: 'Alert', aggregate_id: 'a1' }))).toMatchObject({
      alertId: 'a1', channelId: 'c7',
    });
    expect(describeEvent(ev('AlertNotified', { channel_id: 'c7', notice: 'raised', outcome: 'failed', attempt: 3 }))).toBe(
      'Notification (raised) failed, attempt 3',
    );
  });
});
