import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, type Backup } from '../api';
import { ErrorMessage } from './ErrorMessage';
import { useAccess } from '../access';

/** Pins (never pruned) or unpins a version. A toggle button: `aria-pressed` says which. */
export function PinToggle({
  backup,
  onChanged,
  describedBy,
}: {
  backup: Backup;
  onChanged?: (b: Backup) => void;
  /** Id of what names the version (e.g. its time in a table row). */
  describedBy?: string;
}) {
  const qc = useQueryClient();
  const { deny } = useAccess();
  const pinned = !!backup.pinned;
  const toggle = useMutation({
    mutationFn: () => (pinned ? api.unpinBackup(backup.id) : api.pinBackup(backup.id)),
    onSuccess: (b) => {
      qc.setQueryData<Backup[]>(['backups', b.database_id], (list) => list?.map((x) => (x.id === b.id ? { ...x, ...b } : x)));
      qc.setQueryData<Backup>(['backup', b.id], (old) => (old ? { ...old, ...b } : b));
      void qc.invalidateQueries({ queryKey: ['backups', b.database_id] });
      void qc.invalidateQueries({ queryKey: ['retention-preview', b.database_id] });
      onChanged?.(b);
    },
  });
  // Who may not pin sees only whether it is pinned.
  if (deny('pin')) return pinned ? <span className="badge badge-scheduled pin-state">★ Pinned</span> : null;
  return (
    <div className="pin-toggle">
      <button
        type="button"
        className={`pin${pinned ? ' is-pinned' : ''}`}
        aria-pressed={pinned}
        onClick={() => toggle.mutate()}
        disabled={toggle.isPending}
        aria-describedby={describedBy}
        title={pinned ? 'Pinned: retention never prunes this version. Press to unpin.' : 'Pin: retention will never prune this version.'}
      >
        <span aria-hidden="true">{pinned ? '★' : '☆'}</span> {pinned ? 'Pinned' : 'Pin'}
      </button>
      {toggle.error ? <ErrorMessage error={toggle.error} /> : null}
    </div>
  );
}
