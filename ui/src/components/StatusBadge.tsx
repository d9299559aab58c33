const LABELS: Record<string, string> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  abandoned: 'Abandoned',
  cancelled: 'Cancelled',
  never: 'Never backed up',
  removed: 'Removed',
  pruned: 'Pruned',
  paused: 'Paused',
  scheduled: 'Scheduled',
};

/** Status as text and colour (never colour alone). */
export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      {status === 'running' && <span className="spinner" aria-hidden="true" />}
      {LABELS[status] ?? status}
    </span>
  );
}
