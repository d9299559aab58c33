import { formatAge, formatTime, formatUtc } from '../format';

/**
 * A point in time in the viewer's time zone, with the zone's name ("2026-11-30 15:05:03 CET");
 * UTC on hover. `relative` shows "5 min ago" instead (the full time is then in the title).
 */
export function Time({ iso, relative = false }: { iso: string | null | undefined; relative?: boolean }) {
  if (!iso) return <span className="muted">—</span>;
  const title = relative ? `${formatTime(iso)} (${formatUtc(iso)})` : formatUtc(iso);
  return (
    <time dateTime={iso} title={title}>
      {relative ? formatAge(iso) : formatTime(iso)}
    </time>
  );
}
