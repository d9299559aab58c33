import type { WorkProgress } from '../api';
import { formatBytes, formatDuration } from '../format';

const PHASES: Record<string, string> = { dump: 'dumped', download: 'fetched and checked', load: 'loaded' };

/**
 * How far a running backup or restore got: a bar with the percentage and the ETA when the
 * expected size is known (a backup: the previous version's raw size; a restore: the
 * artifact's), else an indeterminate bar with the bytes so far.
 */
export function ProgressMeter({ progress, fallbackBytes }: { progress?: WorkProgress | null; fallbackBytes?: number | null }) {
  const bytes = progress?.bytes ?? fallbackBytes ?? null;
  const percent = progress?.percent ?? null;
  const what = progress ? (PHASES[progress.phase] ?? progress.phase) : 'dumped';
  return (
    <div className="progress-meter" data-testid="progress-meter">
      <span className="progress-bytes" data-testid="progress-bytes">
        {bytes !== null ? `${formatBytes(bytes)} ${what} so far` : '\u00a0'}
        {percent !== null && progress?.expected_bytes ? ` of ~${formatBytes(progress.expected_bytes)} (${percent}%)` : ''}
        {typeof progress?.eta_seconds === 'number' ? ` — about ${formatDuration(progress.eta_seconds * 1000)} left` : ''}
      </span>
      {percent !== null ? (
        <div
          className="bar"
          role="progressbar"
          aria-label={`${what}: ${percent}%`}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent}
        >
          <span style={{ width: `${percent}%` }} />
        </div>
      ) : (
        <div className="bar indeterminate" aria-hidden="true">
          <span />
        </div>
      )}
    </div>
  );
}
