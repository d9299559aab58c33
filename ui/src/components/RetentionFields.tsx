import { RETENTION_KEYS, type RetentionKey } from '../api';
import { RETENTION_LABELS, describeRetention, retentionFromDraft, validateRetention, type RetentionDraft } from '../schedule';
import { invalidProps } from './Field';

const HINTS: Partial<Record<RetentionKey, string>> = {
  keep_last: 'newest versions',
  keep_daily: 'days, newest each',
  keep_weekly: 'weeks, newest each',
  keep_monthly: 'months, newest each',
  keep_yearly: 'years, newest each',
};

/**
 * The retention policy as seven optional whole numbers. Every rule keeps; a version goes only when
 * no rule keeps it. `showErrors`: show the form's own checks (after a first save attempt or once a
 * field was left); `serverErrors(key)` gives the server's messages for `retention.<key>`.
 */
export function RetentionFields({
  value,
  onChange,
  showErrors,
  serverErrors,
  generalErrors,
}: {
  value: RetentionDraft;
  onChange: (next: RetentionDraft, key: RetentionKey) => void;
  showErrors: (key: RetentionKey) => boolean;
  serverErrors: (key: RetentionKey) => string[];
  /** Messages for `retention` as a whole (not one key). */
  generalErrors: string[];
}) {
  const local = validateRetention(value);
  const valid = Object.keys(local).length === 0;
  return (
    <fieldset className="form-section" aria-describedby="retention-summary">
      <legend>Retention</legend>
      <p className="hint retention-intro">
        Every rule keeps versions; a version is pruned only when no rule keeps it. Empty fields are off; all empty keeps
        everything. Pinned versions are never pruned.
      </p>
      <div className="retention-grid">
        {RETENTION_KEYS.map((k) => {
          const id = `ret-${k}`;
          const errs = [...(showErrors(k) && local[k] ? [local[k]!] : []), ...serverErrors(k)];
          return (
            <div key={k} className={`field${errs.length ? ' has-error' : ''}`}>
              <label htmlFor={id}>{RETENTION_LABELS[k]}</label>
              <input
                id={id}
                name={k}
                value={value[k]}
                onChange={(e) => onChange({ ...value, [k]: e.target.value }, k)}
                inputMode="numeric"
                autoComplete="off"
                placeholder="off"
                className="num-input"
                {...invalidProps(id, errs)}
              />
              {errs.length ? (
                <p id={`${id}-error`} className="field-error">
                  {errs.join(' ')}
                </p>
              ) : (
                <p id={`${id}-hint`} className="hint">
                  {HINTS[k] ?? (k === 'min_keep' ? 'default 1' : 'keeps all younger')}
                </p>
              )}
            </div>
          );
        })}
      </div>
      {generalErrors.length > 0 && (
        <p className="field-error" id="retention-error">
          {generalErrors.join(' ')}
        </p>
      )}
      <p id="retention-summary" className="retention-summary" data-testid="retention-summary">
        {valid ? describeRetention(retentionFromDraft(value)) : 'Fix the highlighted numbers.'}
      </p>
    </fieldset>
  );
}
