import { ApiError, type FieldError } from '../api';

/** Shows what went wrong in words a person can act on: the problem's title and detail, and field errors. */
/** `fieldErrors`: the field errors to list here (those not already shown next to their field). */
export function ErrorMessage({ error, fieldErrors = [] }: { error: unknown; fieldErrors?: FieldError[] }) {
  if (!error) return null;
  return (
    <div className="alert alert-error" role="alert">
      <strong>{error instanceof ApiError ? (error.problem.title ?? `HTTP ${error.status}`) : 'Something went wrong'}</strong>
      {error instanceof ApiError ? (
        error.problem.detail && error.problem.detail !== error.problem.title && <p>{error.problem.detail}</p>
      ) : (
        <p>{error instanceof Error ? error.message : String(error)}</p>
      )}
      {fieldErrors.length > 0 && (
        <ul>
          {fieldErrors.map((e, i) => (
            <li key={i}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
