import type { ReactNode } from 'react';

/** aria-invalid + aria-describedby for an input whose message (error or hint) is rendered by `Field`. */
export function invalidProps(id: string, errors: string[]) {
  return errors.length ? { 'aria-invalid': true as const, 'aria-describedby': `${id}-error` } : { 'aria-describedby': `${id}-hint` };
}

/** A labelled form field with either its errors or its hint below it. */
export function Field({
  id,
  label,
  hint,
  errors,
  className,
  children,
}: {
  id: string;
  label: ReactNode;
  hint?: ReactNode | undefined;
  errors: string[];
  className?: string;
  children: ReactNode;
}) {
  return (
    <div className={`field${errors.length ? ' has-error' : ''}${className ? ` ${className}` : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {errors.length > 0 ? (
        <p id={`${id}-error`} className="field-error">
          {errors.join(' ')}
        </p>
      ) : hint ? (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      ) : null}
    </div>
  );
}

/** Focus an input, unfolding the `<details>` it is in (a folded input cannot take the focus). */
export function focusInput(id: string) {
  const el = document.getElementById(id);
  const folded = el?.closest('details');
  if (folded && !folded.open) folded.open = true;
  el?.focus();
}
