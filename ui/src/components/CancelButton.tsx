import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../api';
import { ErrorMessage } from './ErrorMessage';

/**
 * Asks a running backup or restore to stop. The process running it (this server or another
 * on the same ledger) stops it; it ends `cancelled` (a restore already replacing its target
 * completes instead).
 */
export function CancelButton({
  kind,
  id,
  requestedBy,
  describedBy,
}: {
  kind: 'backup' | 'restore';
  id: string;
  /** Who already asked it to stop. */
  requestedBy?: string | null;
  describedBy?: string;
}) {
  const qc = useQueryClient();
  const cancel = useMutation({
    mutationFn: () => (kind === 'backup' ? api.cancelBackup(id) : api.cancelRestore(id)),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: [kind, id] });
      void qc.invalidateQueries({ queryKey: [`${kind}s`] });
    },
  });
  if (requestedBy || cancel.isSuccess) {
    return (
      <span className="cancel-requested muted" role="status">
        Stopping…
      </span>
    );
  }
  return (
    <span className="cancel">
      <button
        type="button"
        className="danger cancel-button"
        onClick={() => cancel.mutate()}
        disabled={cancel.isPending}
        aria-describedby={describedBy}
        title={kind === 'backup' ? 'Stop this backup: no version is made' : 'Stop this restore: the target stays as it was'}
      >
        {cancel.isPending ? 'Cancelling…' : 'Cancel'}
      </button>
      {cancel.error ? <ErrorMessage error={cancel.error} /> : null}
    </span>
  );
}
