import { useId, useState } from 'react';

/** A destructive action that waits until the user has typed `name` exactly. */
export function ConfirmByName({
  name,
  action,
  busy = false,
  onConfirm,
  onCancel,
  prompt,
}: {
  name: string;
  action: string;
  busy?: boolean;
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
          if (e.key === 'Enter' && matches && !busy) {
            e.preventDefault();
            onConfirm();
          }
        }}
      />
      <div className="actions">
        <button type="button" className="danger" disabled={!matches || busy} onClick={onConfirm}>
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
