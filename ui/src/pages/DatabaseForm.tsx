import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import {
  ApiError,
  RETENTION_KEYS,
  api,
  fieldErrorsOf,
  type ConnectionTest,
  type Database,
  type DatabasePatch,
  type Engine,
  type NewDatabase,
} from '../api';
import { checkConnectionUrl, checkDatabaseName, composeConnection, exampleUrl, splitConnection } from '../connection';
import { ErrorMessage } from '../components/ErrorMessage';
import { ConfirmByName } from '../components/ConfirmByName';
import { Field, focusInput, invalidProps } from '../components/Field';
import { JobsFields } from '../components/JobsFields';
import { ScheduleFields, type ScheduleDraft } from '../components/ScheduleFields';
import { RetentionFields } from '../components/RetentionFields';
import { SshFields, sshBlock, sshChanged, sshDraft } from '../components/SshFields';
import { retentionDraft, retentionFromDraft, sameRetention, validateRetention } from '../schedule';
import { checkJobs, jobsChanges, jobsDraft } from '../jobs';
import { Link, navigate } from '../router';

const KNOWN_FIELDS = ['name', 'engine', 'connection', 'ssh', 'schedule', 'timezone', 'catch_up', 'retention'] as const;
/** Shown (and so known) for PostgreSQL only. */
const JOBS_FIELDS = ['backup_jobs', 'restore_jobs'] as const;

/** The input a field's error belongs to, in the order of the form (the first gets the focus). */
const FIELD_INPUTS: [field: string, inputId: string][] = [
  ['name', 'db-name'],
  ['engine', 'db-engine'],
  ['connection', 'db-connection'],
  ['ssh', 'ssh-host'],
  ['schedule', 'db-schedule'],
  ['timezone', 'db-timezone'],
  ['catch_up', 'db-catchup'],
  ...RETENTION_KEYS.map((k): [string, string] => [`retention.${k}`, `ret-${k}`]),
  ['retention', 'ret-keep_last'],
  ['backup_jobs', 'db-backup-jobs'],
  ['restore_jobs', 'db-restore-jobs'],
];

const matches = (errorField: string, field: string) => errorField === field || errorField.startsWith(`${field}.`);

/** Add a database (no `id`) or edit one. */
export function DatabaseForm({ id }: { id?: string }) {
  const existing = useQuery({
    queryKey: ['database', id],
    queryFn: () => api.getDatabase(id!),
    enabled: id !== undefined,
  });

  if (id !== undefined) {
    if (existing.error) return <ErrorMessage error={existing.error} />;
    if (!existing.data) return <p className="placeholder">Loading…</p>;
    return <DatabaseFormFields key={existing.data.id} existing={existing.data} />;
  }
  return <DatabaseFormFields />;
}

export function DatabaseFormFields({ existing }: { existing?: Database }) {
  const qc = useQueryClient();
  const initial = existing ? splitConnection(existing.connection) : { url: '', password: '' };
  const [name, setName] = useState(existing?.name ?? '');
  const [engine, setEngine] = useState<Engine>(existing?.engine ?? 'postgres');
  const [url, setUrl] = useState(initial.url);
  const [password, setPassword] = useState('');
  const [test, setTest] = useState<{ result?: ConnectionTest; error?: unknown; busy?: boolean } | null>(null);
  const initialSchedule: ScheduleDraft = {
    cron: existing?.schedule?.cron ?? '',
    timezone: existing?.schedule?.timezone ?? '',
    catchUp: existing?.schedule?.catch_up ?? 'latest',
  };
  const [schedule, setSchedule] = useState<ScheduleDraft>(initialSchedule);
  const [retention, setRetention] = useState(() => retentionDraft(existing?.retention));
  const [ssh, setSsh] = useState(() => sshDraft(existing?.ssh));
  const [jobs, setJobs] = useState(() => jobsDraft(existing));
  const postgres = engine === 'postgres';
  const sshEdited = sshChanged(ssh, existing?.ssh);
  const retentionErrors = validateRetention(retention);

  const connectionChanged = !existing || url.trim() !== initial.url || password !== '';
  const connection = composeConnection(url, password);

  // A test result describes the connection it was run with; editing it makes the result stale.
  useEffect(() => setTest(null), [url, password, engine, ssh]);

  // Whether the last save sent a name: a 409 then means the name is taken.
  const nameSent = useRef(false);
  const save = useMutation({
    mutationFn: async (): Promise<Database> => {
      const cron = schedule.cron.trim();
      const tz = schedule.timezone.trim();
      const policy = retentionFromDraft(retention);
      if (!existing) {
        const body: NewDatabase = { name: name.trim(), engine, connection };
        const block = sshBlock(ssh);
        if (block) body.ssh = block;
        if (cron) Object.assign(body, { schedule: cron, timezone: tz || 'UTC', catch_up: schedule.catchUp });
        if (Object.keys(policy).length) body.retention = policy;
        if (postgres) Object.assign(body, jobsChanges(jobs));
        nameSent.current = true;
        return api.createDatabase(body);
      }
      const patch: DatabasePatch = {};
      if (name.trim() !== existing.name) patch.name = name.trim();
      if (connectionChanged) patch.connection = connection;
      if (sshEdited) patch.ssh = ssh.enabled ? sshBlock(ssh) : null;
      const was = existing.schedule;
      if (!cron) {
        if (was) patch.schedule = null;
      } else if (!was || cron !== was.cron || (tz || 'UTC') !== was.timezone || schedule.catchUp !== was.catch_up) {
        Object.assign(patch, { schedule: cron, timezone: tz || 'UTC', catch_up: schedule.catchUp });
      }
      if (!sameRetention(policy, existing.retention)) patch.retention = policy;
      if (postgres) Object.assign(patch, jobsChanges(jobs, existing));
      nameSent.current = patch.name !== undefined;
      return Object.keys(patch).length ? api.updateDatabase(existing.id, patch) : existing;
    },
    onSuccess: (db) => {
      void qc.invalidateQueries({ queryKey: ['databases'] });
      qc.setQueryData(['database', db.id], db);
      void qc.invalidateQueries({ queryKey: ['events'] });
      navigate(`/databases/${db.id}`);
    },
  });

  const saveError = save.error instanceof ApiError ? save.error : null;
  const testError = test?.error instanceof ApiError ? test.error : null;
  const apiError = saveError ?? testError;
  // Every field error the server sent; a 409 on saving a name is about the name.
  const serverErrors = saveError ? fieldErrorsOf(saveError, nameSent.current ? 'name' : undefined) : fieldErrorsOf(testError);
  // A field's error from the server stays until that field is edited (or the next answer replaces it).
  const [edited, setEdited] = useState<Set<string>>(new Set());
  useEffect(() => setEdited(new Set()), [apiError]);
  const touch = (field: string) => setEdited((s) => (s.has(field) ? s : new Set(s).add(field)));
  // The form's own checks, shown (all at once) from the first attempt to save on.
  const [submitted, setSubmitted] = useState(false);
  const local: Record<string, string | null> = {
    name: checkDatabaseName(name),
    connection: connectionChanged ? checkConnectionUrl(url, engine) : null,
    ssh:
      ssh.enabled && sshEdited && !sshBlock(ssh)
        ? 'Fill in the bastion host, user, private key or password, and confirm its host key fingerprint.'
        : null,
    ...(postgres ? checkJobs(jobs, existing) : {}),
  };
  const fieldMessages = (field: string): string[] => {
    const mine = submitted && local[field] ? [local[field]!] : [];
    const server = edited.has(field.split('.')[0]!)
      ? []
      : serverErrors.filter((e) => e.field === field || e.field.startsWith(`${field}.`)).map((e) => e.message);
    return [...new Set([...mine, ...server])];
  };
  const known: readonly string[] = postgres ? [...KNOWN_FIELDS, ...JOBS_FIELDS] : KNOWN_FIELDS;
  const otherFieldErrors = serverErrors.filter((e) => !known.some((f) => matches(e.field, f)));
  // The general error (at the top) is for what no field shows: no field named, or an unknown one.
  const general = save.error && (serverErrors.length === 0 || otherFieldErrors.length > 0) ? save.error : null;

  // After a failed save, the focus goes to the first field that says why, or to the general error.
  const generalRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!save.error) return;
    const errs = fieldErrorsOf(save.error, nameSent.current ? 'name' : undefined);
    const first = FIELD_INPUTS.find(([f]) => errs.some((e) => matches(e.field, f)));
    if (first && otherFieldErrors.length === 0) focusInput(first[1]);
    else generalRef.current?.focus();
    // Only when a new answer arrives.
  }, [save.error]);

  async function runTest() {
    setTest({ busy: true });
    try {
      const result =
        existing && !connectionChanged && !sshEdited
          ? await api.testSavedConnection(existing.id)
          : await api.testConnection(engine, connection, ssh.enabled ? (sshBlock(ssh) ?? undefined) : undefined);
      setTest({ result });
    } catch (error) {
      setTest({ error });
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    setSubmitted(true);
    // Every problem the form can see shows at once; the focus goes to the first.
    const firstLocal = FIELD_INPUTS.find(([f]) => local[f] || (f.startsWith('retention.') && retentionErrors[f.slice(10) as keyof typeof retentionErrors]));
    if (firstLocal) {
      focusInput(firstLocal[1]);
      return;
    }
    save.mutate();
  }

  // When someone pastes a URL with the password in it, move the password to the masked field.
  function onUrlBlur() {
    const split = splitConnection(url);
    if (split.password) {
      setUrl(split.url);
      setPassword(split.password);
    }
  }

  const title = existing ? `Edit ${existing.name}` : 'Add database';
  return (
    <section className="page narrow">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/">Databases</Link>
        {existing && (
          <>
            {' / '}
            <Link to={`/databases/${existing.id}`}>{existing.name}</Link>
          </>
        )}
      </nav>
      <h1>{title}</h1>
      <form className="card form" onSubmit={submit} noValidate aria-label={title}>
        {general ? (
          <div ref={generalRef} tabIndex={-1} className="form-error" data-testid="form-error">
            <ErrorMessage error={general} fieldErrors={otherFieldErrors} />
          </div>
        ) : null}
        <Field id="db-name" label="Name" errors={fieldMessages('name')} hint="Letters, digits, _ - . (up to 63), starting with a letter or digit.">
          <input
            id="db-name"
            name="name"
            value={name}
            onChange={(e) => {
              setName(e.target.value);
              touch('name');
            }}
            autoComplete="off"
            spellCheck={false}
            required
            {...invalidProps('db-name', fieldMessages('name'))}
          />
        </Field>

        <Field id="db-engine" label="Engine" errors={fieldMessages('engine')} hint={existing ? 'The engine of a registered database cannot change.' : undefined}>
          <select
            id="db-engine"
            name="engine"
            value={engine}
            disabled={!!existing}
            onChange={(e) => setEngine(e.target.value as Engine)}
            {...invalidProps('db-engine', fieldMessages('engine'))}
          >
            <option value="postgres">PostgreSQL</option>
            <option value="mysql">MySQL / MariaDB</option>
          </select>
        </Field>

        <Field
          id="db-connection"
          label="Connection URL (without password)"
          errors={fieldMessages('connection')}
          hint={`e.g. ${exampleUrl(engine)}`}
        >
          <input
            id="db-connection"
            name="connection"
            value={url}
            onChange={(e) => {
              setUrl(e.target.value);
              touch('connection');
            }}
            onBlur={onUrlBlur}
            autoComplete="off"
            spellCheck={false}
            inputMode="url"
            placeholder={exampleUrl(engine)}
            required
            {...invalidProps('db-connection', fieldMessages('connection'))}
          />
        </Field>

        <Field
          id="db-password"
          label="Password"
          errors={[]}
          hint={
            existing
              ? 'The saved password is never shown. Leave empty to keep the saved connection; if you change the URL, enter the password again.'
              : 'Leave empty if the server needs none. It is encrypted at rest and never shown again.'
          }
        >
          <input
            id="db-password"
            name="password"
            type="password"
            value={password}
            onChange={(e) => {
              setPassword(e.target.value);
              touch('connection');
            }}
            autoComplete="new-password"
          />
        </Field>

        <SshFields
          value={ssh}
          onChange={(d) => {
            setSsh(d);
            touch('ssh');
          }}
          errors={fieldMessages('ssh')}
        />

        <div className="test-row">
          <button type="button" onClick={runTest} disabled={test?.busy || !url.trim()}>
            {test?.busy ? 'Testing…' : 'Test connection'}
          </button>
          <div className="test-result" role="status" aria-live="polite" data-testid="test-result">
            {test?.result && test.result.ok && (test.result.missing?.length ?? 0) > 0 && (
              <div className="bad" data-testid="missing-privileges">
                ⚠ Connected{test.result.server_version ? ` — server version ${test.result.server_version}` : ''}, but a backup
                needs privileges this user lacks:
                <ul>
                  {test.result.missing!.map((m) => (
                    <li key={`${m.privilege} ${m.object}`}>
                      <code>{m.privilege}</code> on <code>{m.object}</code>: <span className="sub">{m.effect}</span>
                    </li>
                  ))}
                </ul>
                {(test.result.missing_total ?? 0) > test.result.missing!.length ? (
                  <span className="sub">…and {test.result.missing_total! - test.result.missing!.length} more</span>
                ) : null}
              </div>
            )}
            {test?.result && test.result.ok && (test.result.missing?.length ?? 0) === 0 && (
              <span className="ok">
                ✓ Connected{test.result.server_version ? ` — server version ${test.result.server_version}` : ''}
                {test.result.message ? <span className="sub">{test.result.message}</span> : null}
              </span>
            )}
            {test?.result && !test.result.ok && (
              <span className="bad">
                ✗ Connection failed: <span className="message">{test.result.message}</span>
              </span>
            )}
            {test?.error !== undefined && !test.busy && (
              <span className="bad">
                ✗ {test.error instanceof ApiError ? test.error.message : String(test.error)}
              </span>
            )}
          </div>
        </div>

        <ScheduleFields
          value={schedule}
          onChange={(next, field) => {
            setSchedule(next);
            touch(field);
          }}
          errors={fieldMessages}
        />

        <RetentionFields
          value={retention}
          onChange={(next) => {
            setRetention(next);
            touch('retention');
          }}
          showErrors={() => true}
          serverErrors={(k) => fieldMessages(`retention.${k}`)}
          generalErrors={
            edited.has('retention')
              ? []
              : serverErrors
                  .filter((e) => e.field === 'retention' || (e.field.startsWith('retention.') && !RETENTION_KEYS.some((k) => e.field === `retention.${k}`)))
                  .map((e) => e.message)
          }
        />

        {postgres && (
          <JobsFields
            value={jobs}
            onChange={(next, key) => {
              setJobs(next);
              touch(key);
            }}
            errors={fieldMessages}
            restoreSaved={typeof existing?.restore_jobs === 'number'}
          />
        )}

        <div className="actions">
          <button type="submit" className="primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : existing ? 'Save changes' : 'Add database'}
          </button>
          <Link to={existing ? `/databases/${existing.id}` : '/'} className="button">
            Cancel
          </Link>
        </div>
      </form>
      {existing && <RemoveDatabase db={existing} />}
    </section>
  );
}

function RemoveDatabase({ db }: { db: Database }) {
  const qc = useQueryClient();
  const [open, setOpen] = useState(false);
  const remove = useMutation({
    mutationFn: () => api.removeDatabase(db.id),
    onSuccess: () => {
      void qc.invalidateQueries();
      navigate('/');
    },
  });
  return (
    <section className="card danger-zone" aria-labelledby="remove-h">
      <h2 id="remove-h">Remove database</h2>
      <p>
        Backline stops backing it up and forgets its password. Its history stays on the timeline. The database
        itself is not touched.
      </p>
      {!open ? (
        <button type="button" className="danger" onClick={() => setOpen(true)}>
          Remove…
        </button>
      ) : (
        <ConfirmByName
          name={db.name}
          action="Remove"
          busy={remove.isPending}
          onConfirm={() => remove.mutate()}
          onCancel={() => setOpen(false)}
        />
      )}
      {remove.error ? <ErrorMessage error={remove.error} /> : null}
    </section>
  );
}
