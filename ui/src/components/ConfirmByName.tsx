import { useId, useState } from 'react';

/**
 * A destructive action that waits until the user has typed `name` exactly. `busy`: it is under
 * way ("Restore…"); `disabled`: it cannot start yet for another reason (the label stays as is).
 */
export function ConfirmByName({
  name,
  action,
  busy = false,
  disabled = false,
  onConfirm,
  onCancel,
  prompt,
}: {
  name: string;
  action: string;
  busy?: boolean;
  disabled?: boolean;
  onConfirm: () => void;
  onCancel?: () => void;
  prompt?: string;
}) {
  const id = useId();
  const [typed, setTyped] = useState('');
  const matches = typed === name;
  return (
    <div className="confirm-by-name">
      <label htmlFor={id}>
        {prompt ?? 'To confirm, type the name'} <code className="confirm-name">{name}</code>
      </label>
      <input
        id={id}
        value={typed}
        onChange={(e) => setTyped(e.target.value)}
        autoComplete="off"
        spellCheck={false}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && matches && !busy && !disabled) {
            e.preventDefault();
            onConfirm();
          }
        }}
      />
      <div className="actions">
        <button type="button" className="danger" disabled={!matches || busy || disabled} onClick={onConfirm}>
          {busy ? `${action}…` : action}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </div>
  );
}
