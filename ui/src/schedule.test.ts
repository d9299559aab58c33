import { describe, expect, it } from 'vitest';
import { describeRetention, formatUntil, formatUtcShort, formatZoned, naturalSchedule, nothingToPrune, retentionIsEmpty, sameRetention } from './schedule';
import { describeEvent } from './eventText';
import type { LedgerEvent } from './api';

describe('schedule formatting', () => {
  it("shows a run's wall time in the schedule's zone with its offset, as the server computed it", () => {
    expect(formatZoned('2025-03-30T03:00:00+02:00', 'en-GB')).toBe('Sun, 30 Mar 2025, 03:00 (UTC+02:00)');
    expect(formatZoned('2025-01-02T03:00:05Z', 'en-GB')).toBe('Thu, 2 Jan 2025, 03:00:05 (UTC)');
    expect(formatZoned('not a time')).toBe('not a time');
    expect(formatUtcShort('2025-03-30T01:00:00Z', 'en-GB')).toMatch(/^Sun,? 30 Mar, 01:00 UTC$/);
  });
  it('says how long until the next run', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(formatUntil('2025-01-01T00:00:10Z', now)).toBe('due now');
    expect(formatUntil('2025-01-01T00:05:00Z', now)).toBe('in 5 min');
    expect(formatUntil('2025-01-01T03:00:00Z', now)).toBe('in 3 h');
    expect(formatUntil('2025-01-04T00:00:00Z', now)).toBe('in 3 days');
    expect(formatUntil(null, now)).toBe('—');
  });
});

describe('schedule in words', () => {
  it("turns the server's cron description into plain words", () => {
    // What the server's parser says for common schedules (backline schedule check …).
    expect(naturalSchedule('At every 2 minutes. (UTC)')).toBe('Every 2 minutes (UTC)');
    expect(naturalSchedule('At every 30 seconds. (UTC)')).toBe('Every 30 seconds (UTC)');
    expect(naturalSchedule('Every minute. (UTC)')).toBe('Every minute (UTC)');
    expect(naturalSchedule('At 03:00. (Europe/Berlin)')).toBe('Every day at 03:00 (Europe/Berlin)');
    expect(naturalSchedule('At minute 0 past every hour. (UTC)')).toBe('Every hour, on the hour (UTC)');
    expect(naturalSchedule('At minute 5 past every hour. (UTC)')).toBe('Every hour at 5 minutes past (UTC)');
    expect(naturalSchedule('At minute 0, of every 6 hours. (UTC)')).toBe('Every 6 hours, on the hour (UTC)');
    expect(naturalSchedule('At 01:00, on day 1. (UTC)')).toBe('At 01:00 on day 1 of every month (UTC)');
    expect(naturalSchedule('At 02:30, on Monday, Tuesday, Wednesday, Thursday, and Friday. (UTC)')).toBe(
      'At 02:30 on Monday, Tuesday, Wednesday, Thursday and Friday (UTC)',
    );
    expect(naturalSchedule('At 04:00, on Sunday. (America/New_York)')).toBe('At 04:00 on Sunday (America/New_York)');
    expect(naturalSchedule('0 3 * * *')).toBe('0 3 * * *');
  });
});

describe('retention in words', () => {
  it('says what is kept when nothing is pruned, in the singular for one', () => {
    expect(nothingToPrune(1)).toBe('Nothing to prune now: the only completed version is kept.');
    expect(nothingToPrune(3)).toBe('Nothing to prune now: all 3 completed versions are kept.');
    expect(nothingToPrune(0)).toBe('Nothing to prune now: there is no completed version yet.');
  });

  it('lists the keep rules and the floor', () => {
    expect(describeRetention({})).toBe('Keeps every version (no retention policy).');
    expect(describeRetention(null)).toBe('Keeps every version (no retention policy).');
    expect(describeRetention({ min_keep: 3 })).toBe('Keeps every version (no retention policy).');
    expect(describeRetention({ keep_daily: 7, max_age_days: 1, min_keep: 2 })).toBe(
      'Keeps 7 daily; everything younger than 1 day — and never fewer than 2. Pinned versions are always kept.',
    );
    expect(retentionIsEmpty({ min_keep: 2 })).toBe(true);
    expect(retentionIsEmpty({ keep_last: 0 })).toBe(false);
    expect(sameRetention({}, null)).toBe(true);
    expect(sameRetention({ keep_last: 1 }, { keep_last: 2 })).toBe(false);
  });
});

describe('scheduling and retention events', () => {
  const ev = (type: string, payload: Record<string, unknown> = {}): LedgerEvent => ({
    position: 1, type, aggregate_type: 'Backup', aggregate_id: 'b', sequence: 1, database_id: 'd',
    at: '2025-01-01T00:00:00Z', actor: 'retention', correlation_id: null, node: null, payload,
  });
  it('describes them in words', () => {
    expect(describeEvent(ev('DatabasePaused'))).toBe('Scheduled backups paused');
    expect(describeEvent(ev('BackupPinned'))).toBe('Version pinned');
    expect(describeEvent(ev('BackupPruned', { reason: 'not kept by retention policy (keep_last=1)' }))).toBe(
      'Version pruned: not kept by retention policy (keep_last=1)',
    );
    expect(describeEvent(ev('ScheduledRunClaimed', { slot: '2025-01-01T03:00:00Z', backup_id: 'b' }))).toBe(
      'Scheduled run claimed for slot 2025-01-01 03:00:00 UTC',
    );
  });
});
