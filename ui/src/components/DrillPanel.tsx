import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, fieldErrorsOf, type CatchUp, type Database, type DrillBody, type DrillSettings } from '../api';
import { naturalSchedule } from '../schedule';
import { useAccess } from '../access';
import { ErrorMessage } from './ErrorMessage';
import { Field, invalidProps } from './Field';

/** The default share of its rows a table may lose between two drills (the server's default too). */
export const DEFAULT_MAX_ROW_LOSS = 50;

type SandboxKind = 'new_database' | 'target';

export interface DrillDraft {
  cron: string;
  timezone: string;
  /** Kept from the saved schedule (the form does not offer it: latest is right for drills). */
  catchUp: CatchUp;
  sandbox: SandboxKind;
  targetId: string;
  serverOf: string;
  loss: string;
}

export function drillDraft(db: Database): DrillDraft {
  const d = db.drill;
  const sb = d?.sandbox;
  return {
    cron: d?.schedule?.cron ?? '',
    timezone: d?.schedule && d.schedule.timezone !== 'UTC' ? d.schedule.timezone : '',
    catchUp: d?.schedule?.catch_up ?? 'latest',
    sandbox: sb && 'target' in sb ? 'target' : 'new_database',
    targetId: sb && 'target' in sb ? sb.target.database_id : '',
    serverOf: sb && 'new_database' in sb ? sb.new_database.server_of : db.id,
    loss: String(d?.max_row_loss_percent ?? DEFAULT_MAX_ROW_LOSS),
  };
}

/** The PUT /databases/{id}/drill body of a draft. */
export function drillBody(draft: DrillDraft): DrillBody {
  const cron = draft.cron.trim();
  const tz = draft.timezone.trim();
  return {
    ...(cron ? { schedule: cron, timezone: tz || 'UTC', ...(draft.catchUp !== 'latest' ? { catch_up: draft.catchUp } : {}) } : {}),
    sandbox:
      draft.sandbox === 'target'
        ? { target_database_id: draft.targetId }
        : { new_database: { server_of: draft.serverOf } },
    max_row_loss_percent: Number(draft.loss.trim()),
  };
}

/** What the form itself can tell before asking the server, per field. */
export function checkDrill(draft: DrillDraft): Record<string, string | null> {
  const loss = draft.loss.trim();
  return {
    max_row_loss_percent: /^\d{1,3}$/.test(loss) && Number(loss) >= 1 && Number(loss) <= 100 ? null : 'Give a whole percentage from 1 to 100.',
    sandbox:
      draft.sandbox === 'target' && !draft.targetId
        ? 'Choose the restore target each drill replaces, or a new database each time.'
        : null,
    timezone: draft.timezone.trim() && !draft.cron.trim() ? 'A time zone needs a schedule.' : null,
  };
}

/** Server field errors by the input they belong to, in form order (the first gets the focus). */
const FIELDS: [field: string, input: string][] = [
  ['schedule', 'drill-schedule'],
  ['catch_up', 'drill-schedule'],
  ['timezone', 'drill-timezone'],
  ['sandbox', 'drill-sandbox-new'],
  ['max_row_loss_percent', 'drill-loss'],
];
const fieldOf = (errorField: string) =>
  errorField === 'catch_up' ? 'schedule' : errorField.startsWith('sandbox') ? 'sandbox' : errorField;

/** A sentence for the sandbox of saved settings. */
function sandboxText(s: DrillSettings['sandbox'], names: Map<string, string>): string {
  if ('target' in s) return `restores into ${names.get(s.target.database_id) ?? s.target.database_id} (replaced each time)`;
  return `restores into a new database on the server of ${names.get(s.new_database.server_of) ?? s.new_database.server_of}, dropped afterwards`;
}

/**
 * The database's restore drill settings: when drills run, where they restore to, and how much of a
 * table's rows may go between two drills before it is an anomaly. Admins set, change or remove it.
 */
export function DrillPanel({ db }: { db: Database }) {
  const noManage = useAccess().deny('manage');
  const [editing, setEditing] = useState(false);
  const all = useQuery({ queryKey: ['databases'], queryFn: () => api.listDatabases() });
  const names = new Map((all.data ?? []).map((d) => [d.id, d.name]));
  names.set(db.id, db.name);
  const d = db.drill;
  const removed = db.status === 'removed';
  return (
    <section className="card panel" aria-labelledby="drill-h" data-testid="drill-settings">
      <div className="panel-head">
        <h2 id="drill-h">Restore drill</h2>
        {d ? <span className="badge badge-scheduled">{d.schedule ? 'Scheduled' : 'On demand'}</span> : null}
      </div>
      {editing ? (
        <DrillForm db={db} databases={all.data ?? []} onDone={() => setEditing(false)} />
      ) : (
        <>
          {d ? (
            <p data-testid="drill-summary">
              {d.schedule ? naturalSchedule(d.schedule.description) : 'Runs only when asked'}; {sandboxText(d.sandbox, names)}. A table
              that loses more than {d.max_row_loss_percent}% of its rows raises an alert.
            </p>
          ) : (
            <p className="muted" data-testid="drill-summary">
              No drill: nothing rehearses restoring this database's versions.
            </p>
          )}
          {!removed && !noManage ? (
            <div className="actions">
              <button type="button" onClick={() => setEditing(true)}>
                {d ? 'Change drill' : 'Set up a drill'}
              </button>
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}

function DrillForm({ db, databases, onDone }: { db: Database; databases: Database[]; onDone: () => void }) {
  const qc = useQueryClient();
  const id = useId();
  const [edits, setDraft] = useState(() => drillDraft(db));
  const same = databases.filter((o) => o.engine === db.engine && o.status === 'active');
  if (!same.some((o) => o.id === db.id)) same.unshift(db);
  const targets = same.filter((o) => o.id !== db.id && o.restore_target);
  // Until one is picked, the first restore target (the list may arrive after the form opens).
  const draft = { ...edits, targetId: edits.targetId || targets[0]?.id || '' };
  const saved = (next: Database) => {
    qc.setQueryData(['database', next.id], next);
    qc.setQueryData(['database', next.name], next);
    void qc.invalidateQueries({ queryKey: ['database'] });
    void qc.invalidateQueries({ queryKey: ['databases'] });
    onDone();
  };
  const save = useMutation({ mutationFn: () => api.setDrill(db.id, drillBody(draft)), onSuccess: saved });
  const remove = useMutation({ mutationFn: () => api.removeDrill(db.id), onSuccess: saved });

  const [submitted, setSubmitted] = useState(false);
  const local = checkDrill(draft);
  const serverErrors = fieldErrorsOf(save.error);
  // A field's server error stays until that field is edited (or the next answer replaces it).
  const [edited, setEdited] = useState<Set<string>>(new Set());
  useEffect(() => setEdited(new Set()), [save.error]);
  const errors = (field: string): string[] => {
    const mine = submitted && local[field] ? [local[field]!] : [];
    const server = edited.has(field) ? [] : serverErrors.filter((e) => fieldOf(e.field) === field).map((e) => e.message);
    return [...new Set([...mine, ...server])];
  };
  const known = new Set(FIELDS.map(([f]) => fieldOf(f)));
  const unplaced = serverErrors.filter((e) => !known.has(fieldOf(e.field)));
  const general = save.error && (serverErrors.length === 0 || unplaced.length > 0) ? save.error : null;
  const change = (field: string, next: Partial<DrillDraft>) => {
    setDraft((d) => ({ ...d, ...next }));
    setEdited((s) => (s.has(field) ? s : new Set(s).add(field)));
  };

  // After a refused save, the focus goes to the first field that says why.
  const generalRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!save.error) return;
    const first = FIELDS.find(([f]) => fieldErrorsOf(save.error).some((e) => fieldOf(e.field) === fieldOf(f)));
    if (first && unplaced.length === 0) document.getElementById(first[1])?.focus();
    else generalRef.current?.focus();
    // Only when a new answer arrives.
  }, [save.error]);

  function submit(e: FormEvent) {
    e.preventDefault();
    setSubmitted(true);
    const first = FIELDS.find(([f]) => local[f]);
    if (first) {
      document.getElementById(first[1])?.focus();
      return;
    }
    save.mutate();
  }

  const sandboxErrors = errors('sandbox');
  const busy = save.isPending || remove.isPending;
  return (
    <form className="form drill-form" onSubmit={submit} noValidate aria-label={`Restore drill of ${db.name}`}>
      {general ? (
        <div ref={generalRef} tabIndex={-1} data-testid="form-error">
          <ErrorMessage error={general} fieldErrors={unplaced} />
        </div>
      ) : null}
      <Field
        id="drill-schedule"
        label="Drill schedule (cron)"
        errors={errors('schedule')}
        hint={
          <>
            e.g. <code>0 4 * * 0</code> (Sundays at 04:00). Leave empty to run drills only when asked.
          </>
        }
      >
        <input
          id="drill-schedule"
          className="mono"
          value={draft.cron}
          onChange={(e) => change('schedule', { cron: e.target.value })}
          autoComplete="off"
          spellCheck={false}
          {...invalidProps('drill-schedule', errors('schedule'))}
        />
      </Field>
      <Field id="drill-timezone" label="Time zone (optional)" errors={errors('timezone')} hint="IANA name such as Europe/Berlin; UTC when empty.">
        <input
          id="drill-timezone"
          value={draft.timezone}
          onChange={(e) => change('timezone', { timezone: e.target.value })}
          autoComplete="off"
          spellCheck={false}
          {...invalidProps('drill-timezone', errors('timezone'))}
        />
      </Field>
      <fieldset className={`type-choice${sandboxErrors.length ? ' has-error' : ''}`}>
        <legend>Sandbox</legend>
        <label className="radio">
          <input
            type="radio"
            id="drill-sandbox-new"
            name={`${id}-sandbox`}
            checked={draft.sandbox === 'new_database'}
            aria-describedby={sandboxErrors.length ? 'drill-sandbox-error' : undefined}
            onChange={() => change('sandbox', { sandbox: 'new_database' })}
          />
          A new database each time, created and dropped by the drill
        </label>
        {draft.sandbox === 'new_database' ? (
          <div className="field">
            <label htmlFor="drill-server-of">On the server of</label>
            <select id="drill-server-of" value={draft.serverOf} onChange={(e) => change('sandbox', { serverOf: e.target.value })}>
              {same.map((o) => (
                <option key={o.id} value={o.id}>
                  {o.name}
                  {o.id === db.id ? ' (this database)' : ''}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        <label className="radio">
          <input
            type="radio"
            id="drill-sandbox-target"
            name={`${id}-sandbox`}
            checked={draft.sandbox === 'target'}
            aria-describedby={sandboxErrors.length ? 'drill-sandbox-error' : undefined}
            onChange={() => change('sandbox', { sandbox: 'target' })}
          />
          A registered restore target, replaced by each drill
        </label>
        {draft.sandbox === 'target' ? (
          <div className="field">
            <label htmlFor="drill-target">Restore target</label>
            <select id="drill-target" value={draft.targetId} onChange={(e) => change('sandbox', { targetId: e.target.value })}>
              {targets.length === 0 ? <option value="">No restore target of this engine is registered</option> : null}
              {targets.map((o) => (
                <option key={o.id} value={o.id}>
                  {o.name}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        {sandboxErrors.length ? (
          <p id="drill-sandbox-error" className="field-error">
            {sandboxErrors.join(' ')}
          </p>
        ) : null}
      </fieldset>
      <Field
        id="drill-loss"
        label="Anomaly when a table loses more than (% of its rows)"
        errors={errors('max_row_loss_percent')}
        hint={`Compared with the previous drill; a vanished table always is one. Default ${DEFAULT_MAX_ROW_LOSS}%.`}
      >
        <input
          id="drill-loss"
          inputMode="numeric"
          value={draft.loss}
          onChange={(e) => change('max_row_loss_percent', { loss: e.target.value })}
          {...invalidProps('drill-loss', errors('max_row_loss_percent'))}
        />
      </Field>
      {remove.error ? <ErrorMessage error={remove.error} /> : null}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {save.isPending ? 'Saving…' : 'Save drill'}
        </button>
        {db.drill ? (
          <button type="button" onClick={() => remove.mutate()} disabled={busy}>
            Remove drill
          </button>
        ) : null}
        <button type="button" onClick={onDone} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
