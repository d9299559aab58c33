// Display helpers: every size, duration and time the UI shows goes through here.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n < 1024) return `${n} B`;
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[i]}`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h} h ${m} min` : `${m} min ${sec} s`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago" relative to `now`. */
export function formatAge(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  const d = Math.round(h / 24);
  return `${d} days ago`;
}

/**
 * A point in time as the UI shows it everywhere: "2026-11-30 14:05:03 UTC", in the viewer's time
 * zone (or `timeZone`), always with that zone's name as the browser abbreviates it ("CET",
 * "EST", "GMT+1"…). Date and time are ISO-ordered so that they read the same in every locale;
 * `locale` only picks the zone's abbreviation.
 */
export function formatTime(iso: string, opts: { timeZone?: string; locale?: string; seconds?: boolean } = {}): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = new Intl.DateTimeFormat(opts.locale, {
    timeZone: opts.timeZone,
    timeZoneName: 'short',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(d);
  const get = (t: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === t)?.value ?? '';
  const time = opts.seconds === false ? `${get('hour')}:${get('minute')}` : `${get('hour')}:${get('minute')}:${get('second')}`;
  return `${get('year')}-${get('month')}-${get('day')} ${time} ${get('timeZoneName')}`.trim();
}

/** The viewer's time zone as the browser abbreviates it now, e.g. "UTC", "CET", "GMT+1". */
export function zoneName(opts: { timeZone?: string; locale?: string; at?: Date } = {}): string {
  const parts = new Intl.DateTimeFormat(opts.locale, { timeZone: opts.timeZone, timeZoneName: 'short' }).formatToParts(opts.at ?? new Date());
  return parts.find((p) => p.type === 'timeZoneName')?.value ?? 'local time';
}

/** Unambiguous UTC for the hover title, e.g. "2025-11-25 22:44:01 UTC". */
export function formatUtc(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** "1 version", "3 versions", "0 versions"; `many` for irregular plurals ("1 delivery", "2 deliveries"). */
export function plural(n: number, one: string, many: string = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A version in words: its database's name and when it was taken, e.g. "orders, 2026-11-30 14:05:03 UTC". */
export function versionLabel(databaseName: string, startedAt: string): string {
  return `${databaseName}, ${formatTime(startedAt)}`;
}

export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 12) : '—';
}

/** Converts a `<input type="datetime-local">` value (viewer's local time) to epoch ms. */
export function localInputToMs(value: string): number | null {
  if (!value) return null;
  const t = new Date(value).getTime();
  return Number.isNaN(t) ? null : t;
}

export function engineLabel(engine: string): string {
  return engine === 'postgres' ? 'PostgreSQL' : engine === 'mysql' ? 'MySQL / MariaDB' : engine;
}

/** "pg_dump 15.2", without repeating the name when the version string already starts with it. */
export function toolLabel(tool: string | null, version: string | null): string {
  if (!tool) return version ?? '—';
  if (!version) return tool;
  return version.toLowerCase().startsWith(tool.toLowerCase()) ? version : `${tool} ${version}`;
}
