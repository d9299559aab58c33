import type { StageError } from '../api';

/** A failed backup's or restore's error: stage, message and the tail of the tool's stderr. */
export function StageErrorView({ error }: { error: StageError }) {
  return (
    <div className="stage-error">
      <p>
        <span className="label">Failed at</span> <code>{error.stage}</code>: {error.message}
      </p>
      {error.stderr_tail && (
        <details open>
          <summary>stderr (last lines)</summary>
          <pre className="stderr" tabIndex={0} role="region" aria-label="Tool output">{error.stderr_tail}</pre>
        </details>
      )}
    </div>
  );
}
