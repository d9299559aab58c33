import { formatAge, formatLocal, formatUtc } from '../format';

/** A point in time in the viewer's local time; UTC on hover. `relative` shows "5 min ago" instead. */
export function Time({ iso, relative = false }: { iso: string | null | undefined; relative?: boolean }) {
  if (!iso) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={formatUtc(iso)}>
      {relative ? formatAge(iso) : formatLocal(iso)}
    </time>
  );
}
