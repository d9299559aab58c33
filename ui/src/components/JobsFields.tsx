import { useState } from 'react';
import { MAX_JOBS, type JobsDraft, type JobsKey } from '../jobs';
import { Field, invalidProps } from './Field';

/**
 * A PostgreSQL database's parallel jobs, folded away (most databases keep the defaults) unless one
 * is set. `errors(key)`: the messages for `backup_jobs` or `restore_jobs`. `restoreSaved`: a
 * saved `restore_jobs` can be changed but not emptied.
 */
export function JobsFields({
  value,
  onChange,
  errors,
  restoreSaved,
}: {
  value: JobsDraft;
  onChange: (next: JobsDraft, key: JobsKey) => void;
  errors: (key: JobsKey) => string[];
  restoreSaved: boolean;
}) {
  const [open, setOpen] = useState(() => value.backup_jobs.trim() !== '1' || value.restore_jobs.trim() !== '');
  const input = (key: JobsKey, id: string, placeholder: string) => (
    <input
      id={id}
      name={key}
      value={value[key]}
      onChange={(e) => onChange({ ...value, [key]: e.target.value }, key)}
      inputMode="numeric"
      autoComplete="off"
      placeholder={placeholder}
      className="num-input"
      {...invalidProps(id, errors(key))}
    />
  );
  return (
    <details className="form-section jobs-section" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Parallel jobs</summary>
      <Field
        id="db-backup-jobs"
        label="Backup processes (pg_dump on one snapshot)"
        errors={errors('backup_jobs')}
        hint={`1–${MAX_JOBS}; 1 (the default) is one stream. More split a big database's tables between processes that share one snapshot; each version then has several parts.`}
      >
        {input('backup_jobs', 'db-backup-jobs', '1')}
      </Field>
      <Field
        id="db-restore-jobs"
        label="Restore jobs (pg_restore --jobs)"
        errors={errors('restore_jobs')}
        hint={`1–${MAX_JOBS}, for restores into this database. ${
          restoreSaved ? 'Once set it can be changed but not emptied.' : 'Empty: the default, min(4, cores of the Backline host).'
        } On hosts with 2 cores or fewer, 1 is fastest.`}
      >
        {input('restore_jobs', 'db-restore-jobs', 'default')}
      </Field>
    </details>
  );
}
