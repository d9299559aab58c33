// Schedule and retention helpers: time-zone suggestions, the next run in words, retention in words
// and the form's own checks of retention numbers (the server checks again).
import { RETENTION_KEYS, type CatchUp, type Retention, type RetentionKey } from './api';

/** Suggestions for the time-zone field; any IANA name can be typed. */
export const COMMON_TIMEZONES = [
  'UTC',
  'Europe/London',
  'Europe/Dublin',
  'Europe/Lisbon',
  'Europe/Paris',
  'Europe/Berlin',
  'Europe/Amsterdam',
  'Europe/Madrid',
  'Europe/Rome',
  'Europe/Zurich',
  'Europe/Stockholm',
  'Europe/Warsaw',
  'Europe/Athens',
  'Europe/Helsinki',
  'Europe/Istanbul',
  'Europe/Moscow',
  'Africa/Johannesburg',
  'Africa/Lagos',
  'Africa/Cairo',
  'Asia/Dubai',
  'Asia/Kolkata',
  'Asia/Singapore',
  'Asia/Shanghai',
  'Asia/Hong_Kong',
  'Asia/Tokyo',
  'Asia/Seoul',
  'Australia/Perth',
  'Australia/Sydney',
  'Pacific/Auckland',
  'America/Sao_Paulo',
  'America/Argentina/Buenos_Aires',
  'America/New_York',
  'America/Toronto',
  'America/Chicago',
  'America/Denver',
  'America/Phoenix',
  'America/Los_Angeles',
  'America/Anchorage',
  'Pacific/Honolulu',
] as const;

/** Example schedules offered as suggestions in the schedule field. */
export const CRON_EXAMPLES: { cron: string; label: string }[] = [
  { cron: '0 3 * * *', label: 'every day at 03:00' },
  { cron: '0 */6 * * *', label: 'every 6 hours' },
  { cron: '@hourly', label: 'every hour' },
  { cron: '@daily', label: 'every day at midnight' },
  { cron: '30 2 * * 1-5', label: 'weekdays at 02:30' },
  { cron: '0 4 * * 0', label: 'Sundays at 04:00' },
  { cron: '0 1 1 * *', label: 'the 1st of every month at 01:00' },
];

export const CATCH_UP_LABELS: Record<CatchUp, string> = {
  latest: 'Run the latest missed slot once (default)',
  none: 'Skip missed slots',
  all: 'Run every missed slot',
};

/** The viewer's own time zone, when the browser knows it. */
export function browserTimeZone(): string | null {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch {
    return null;
  }
}

/** "in 5 min", "in 3 h", "in 2 days" (or "due now") until `iso`, from `now`. */
export function formatUntil(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const s = Math.round((t - now) / 1000);
  if (s < 30) return 'due now';
  if (s < 90) return 'in 1 min';
  const m = Math.round(s / 60);
  if (m < 60) return `in ${m} min`;
  const h = Math.round(m / 60);
  if (h < 48) return `in ${h} h`;
  return `in ${Math.round(h / 24)} days`;
}

/**
 * A run in the schedule's own time zone, e.g. "Thu 26 Nov 2026, 03:00 (UTC+01:00)".
 * `localIso` carries the offset the server computed; the wall time comes from it verbatim so
 * the display never disagrees with the server even where the browser's zone data differs.
 */
export function formatZoned(localIso: string, locale?: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(localIso);
  if (!m) return localIso;
  const [, y, mo, d, hh, mm, ss, off] = m;
  // Weekday and month name from the calendar date alone (noon UTC avoids any day shift).
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), 12));
  const day = new Intl.DateTimeFormat(locale, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).format(date);
  const time = ss && ss !== '00' ? `${hh}:${mm}:${ss}` : `${hh}:${mm}`;
  const offset = off === 'Z' || off === '+00:00' ? 'UTC' : `UTC${off}`;
  return `${day}, ${time} (${offset})`;
}

/** A UTC instant as "Thu 26 Nov, 02:00 UTC" (seconds only when not zero). */
export function formatUtcShort(iso: string, locale?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const day = new Intl.DateTimeFormat(locale, { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' }).format(d);
  const hms = d.toISOString().slice(11, 19);
  return `${day}, ${hms.endsWith(':00') ? hms.slice(0, 5) : hms} UTC`;
}

/**
 * The server's description of a schedule (croner's English, e.g. "At every 2 minutes. (UTC)")
 * in plainer words: "Every 2 minutes (UTC)", "Every day at 03:00 (Europe/Berlin)". Phrasings it
 * does not know keep their words, without the odd comma and full stop.
 */
export function naturalSchedule(description: string): string {
  const m = /^(.*?)\.?\s*(\([^()]+\))?$/.exec(description.trim());
  let text = (m?.[1] ?? description).trim();
  const zone = m?.[2] ? ` ${m[2]}` : '';
  text = text.replace(/, (on|of|in|at) /g, ' $1 ').replace(/, and /g, ' and ');
  const rules: [RegExp, string][] = [
    [/^At every (\d+) (seconds|minutes|hours)\b/, 'Every $1 $2'],
    [/^At minute 0 past every hour$/, 'Every hour, on the hour'],
    [/^At minute (\d+) past every hour$/, 'Every hour at $1 minutes past'],
    [/^At minute 0 of every (\d+) hours/, 'Every $1 hours, on the hour'],
    [/^At minute (\d+) of every (\d+) hours/, 'Every $2 hours at $1 minutes past'],
    [/^At (\d{2}:\d{2}(?::\d{2})?)$/, 'Every day at $1'],
    [/^At (\d{2}:\d{2}(?::\d{2})?) on day (\d+)$/, 'At $1 on day $2 of every month'],
  ];
  for (const [re, to] of rules) {
    if (re.test(text)) {
      text = text.replace(re, to);
      break;
    }
  }
  return `${text}${zone}`;
}

/** What stays when nothing is to be pruned, singular and plural alike. */
export function nothingToPrune(kept: number): string {
  if (kept === 0) return 'Nothing to prune now: there is no completed version yet.';
  if (kept === 1) return 'Nothing to prune now: the only completed version is kept.';
  return `Nothing to prune now: all ${kept} completed versions are kept.`;
}

export const RETENTION_LABELS: Record<RetentionKey, string> = {
  keep_last: 'Keep last',
  keep_daily: 'Daily',
  keep_weekly: 'Weekly',
  keep_monthly: 'Monthly',
  keep_yearly: 'Yearly',
  max_age_days: 'Max age (days)',
  min_keep: 'Never fewer than',
};

/** The policy in words, e.g. "the last 7; 7 daily; 4 weekly; everything younger than 30 days; never fewer than 2". */
export function describeRetention(r: Retention | null | undefined): string {
  const p = r ?? {};
  const parts: string[] = [];
  if (p.keep_last !== undefined) parts.push(`the last ${p.keep_last}`);
  if (p.keep_daily !== undefined) parts.push(`${p.keep_daily} daily`);
  if (p.keep_weekly !== undefined) parts.push(`${p.keep_weekly} weekly`);
  if (p.keep_monthly !== undefined) parts.push(`${p.keep_monthly} monthly`);
  if (p.keep_yearly !== undefined) parts.push(`${p.keep_yearly} yearly`);
  if (p.max_age_days !== undefined) parts.push(`everything younger than ${p.max_age_days} day${p.max_age_days === 1 ? '' : 's'}`);
  if (parts.length === 0) return 'Keeps every version (no retention policy).';
  const floor = p.min_keep !== undefined && p.min_keep > 1 ? p.min_keep : 1;
  return `Keeps ${parts.join('; ')} — and never fewer than ${floor}. Pinned versions are always kept.`;
}

/** True when the policy has no keep rule, i.e. nothing is ever pruned. */
export function retentionIsEmpty(r: Retention | null | undefined): boolean {
  return !r || RETENTION_KEYS.every((k) => k === 'min_keep' || r[k] === undefined);
}

export type RetentionDraft = Record<RetentionKey, string>;

export function retentionDraft(r: Retention | null | undefined): RetentionDraft {
  const out = {} as RetentionDraft;
  for (const k of RETENTION_KEYS) {
    const v = r?.[k];
    out[k] = v === undefined || v === null ? '' : String(v);
  }
  return out;
}

const MAX_U32 = 4_294_967_295;

/** Per-field problems with what was typed (empty fields are fine: that rule is off). */
export function validateRetention(d: RetentionDraft): Partial<Record<RetentionKey, string>> {
  const errors: Partial<Record<RetentionKey, string>> = {};
  for (const k of RETENTION_KEYS) {
    const raw = d[k].trim();
    if (raw === '') continue;
    if (!/^\d+$/.test(raw)) {
      errors[k] = raw.startsWith('-') ? 'must not be negative' : 'must be a whole number';
    } else if (Number(raw) > MAX_U32) {
      errors[k] = 'is too large';
    } else if (k === 'min_keep' && Number(raw) < 1) {
      errors[k] = 'must be at least 1 (the newest good version is always kept)';
    }
  }
  return errors;
}

/** The policy to send: only the filled-in rules. Call after `validateRetention` found nothing. */
export function retentionFromDraft(d: RetentionDraft): Retention {
  const out: Retention = {};
  for (const k of RETENTION_KEYS) {
    const raw = d[k].trim();
    if (raw !== '') out[k] = Number(raw);
  }
  return out;
}

export function sameRetention(a: Retention | null | undefined, b: Retention | null | undefined): boolean {
  return RETENTION_KEYS.every((k) => (a?.[k] ?? null) === (b?.[k] ?? null));
}
