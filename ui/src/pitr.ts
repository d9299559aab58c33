import type { RecoveryInterval } from './api';

/** `YYYY-MM-DDTHH:mm:ss` in local time, as an `<input type="datetime-local" step="1">` wants it. */
export function isoToLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The local date-time of such an input as RFC 3339 (UTC), or null when it is not one. */
export function localInputToIso(value: string): string | null {
  // Browsers (and jsdom) may add milliseconds; a restore is to the second.
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?$/.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m;
  const date = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? '0'));
  return Number.isNaN(date.getTime()) ? null : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Whether the second `iso` lies inside one of the restorable intervals. */
export function insideWindow(iso: string, intervals: RecoveryInterval[]): boolean {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return false;
  return intervals.some((i) => new Date(i.from).getTime() <= t && t <= new Date(i.to).getTime());
}

/** The newest restorable second (the end of the last interval), or null with no window. */
export function latestRestorable(intervals: RecoveryInterval[]): string | null {
  let best: string | null = null;
  for (const i of intervals) if (!best || new Date(i.to) > new Date(best)) best = i.to;
  return best;
}
