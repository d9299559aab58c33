import { describe, expect, it } from 'vitest';
import { formatAge, formatBytes, formatDuration, formatLocal, formatUtc, shortSha, toolLabel } from './format';

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
  it('formats local time in the given zone', () => {
    const s = formatLocal('2025-11-25T22:44:01Z', 'en-GB', 'Europe/Berlin');
    expect(s).toContain('23:44:01');
    expect(s).toContain('2025');
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
