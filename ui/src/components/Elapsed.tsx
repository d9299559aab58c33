import { formatDuration } from '../format';
import { useNow } from '../hooks';

/** Time since `since`, ticking every second. */
export function Elapsed({ since }: { since: string }) {
  const now = useNow(1000);
  const ms = Math.max(0, now - Date.parse(since));
  return <span className="elapsed">{formatDuration(Math.floor(ms / 1000) * 1000)}</span>;
}
