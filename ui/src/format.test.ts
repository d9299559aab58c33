import { describe, expect, it } from 'vitest';
import { formatAge, formatBytes, formatDuration, formatTime, formatUtc, plural, shortSha, toolLabel, versionLabel, zoneName } from './format';

describe('formatBytes', () => {
  it('uses binary units with one decimal below 10', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(183_422)).toBe('179 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });
  it('shows a dash for unknown sizes', () => {
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(undefined)).toBe('—');
  });
});

describe('formatDuration', () => {
  it('scales from ms to hours', () => {
    expect(formatDuration(250)).toBe('250 ms');
    expect(formatDuration(3012)).toBe('3.0 s');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
    expect(formatDuration(3_725_000)).toBe('1 h 2 min');
    expect(formatDuration(null)).toBe('—');
  });
});

describe('formatAge', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');
  it('says how long ago', () => {
    expect(formatAge('2025-06-01T11:59:50Z', now)).toBe('just now');
    expect(formatAge('2025-06-01T11:55:00Z', now)).toBe('5 min ago');
    expect(formatAge('2025-06-01T09:00:00Z', now)).toBe('3 h ago');
    expect(formatAge('2025-05-28T12:00:00Z', now)).toBe('4 days ago');
    expect(formatAge(null, now)).toBe('—');
  });
});

describe('times', () => {
  it('formats UTC for the hover title', () => {
    expect(formatUtc('2025-11-25T22:44:01.123Z')).toBe('2025-11-25 22:44:01 UTC');
  });
  it('formats a time in the given zone, always with the zone', () => {
    expect(formatTime('2025-11-25T22:44:01Z', { locale: 'en-GB', timeZone: 'Europe/Berlin' })).toBe('2025-11-25 23:44:01 CET');
    expect(formatTime('2025-07-25T22:44:01Z', { locale: 'en-GB', timeZone: 'Europe/Berlin' })).toBe('2025-07-26 00:44:01 CEST');
    expect(formatTime('2025-11-25T22:44:01.999Z', { locale: 'en-US', timeZone: 'UTC' })).toBe('2025-11-25 22:44:01 UTC');
    expect(formatTime('2025-11-25T22:44:01Z', { locale: 'en-US', timeZone: 'America/New_York' })).toBe('2025-11-25 17:44:01 EST');
    expect(formatTime('2025-11-25T22:44:01Z', { locale: 'en-US', timeZone: 'Asia/Kolkata', seconds: false })).toBe('2025-11-26 04:14 GMT+5:30');
    // The tests run in UTC (src/test/setup.ts): the default is the viewer's zone.
    expect(formatTime('2025-11-25T22:44:01Z')).toBe('2025-11-25 22:44:01 UTC');
    expect(formatTime('not a time')).toBe('not a time');
  });
  it('names the viewer\'s zone', () => {
    expect(zoneName()).toBe('UTC');
    expect(zoneName({ locale: 'en-GB', timeZone: 'Europe/Berlin', at: new Date('2025-01-01T00:00:00Z') })).toBe('CET');
  });
  it('names a version by its database and time, never by an id', () => {
    expect(versionLabel('orders', '2025-01-02T03:04:05Z')).toBe('orders, 2025-01-02 03:04:05 UTC');
  });
  it('shortens a sha256 to 12 characters', () => {
    expect(shortSha('0123456789abcdef'.repeat(4))).toBe('0123456789ab');
    expect(shortSha(null)).toBe('—');
  });
});

describe('toolLabel', () => {
  it('does not repeat the tool name', () => {
    expect(toolLabel('pg_dump', 'pg_dump (PostgreSQL) 15.20')).toBe('pg_dump (PostgreSQL) 15.20');
    expect(toolLabel('pg_dump', '15.20')).toBe('pg_dump 15.20');
    expect(toolLabel(null, null)).toBe('—');
  });
});

describe('plural', () => {
  it('uses the singular for exactly one', () => {
    expect(plural(1, 'version')).toBe('1 version');
    expect(plural(0, 'version')).toBe('0 versions');
    expect(plural(3, 'version')).toBe('3 versions');
    expect(plural(1, 'delivery', 'deliveries')).toBe('1 delivery');
    expect(plural(2, 'delivery', 'deliveries')).toBe('2 deliveries');
  });
});
