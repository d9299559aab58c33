/** Why a control beside it is disabled (point the control's aria-describedby at `id`). */
export function Denied({ id, reason }: { id: string; reason: string | null }) {
  if (!reason) return null;
  return (
    <span id={id} className="denied">
      {reason}
    </span>
  );
}
