// A PostgreSQL database's parallel jobs: `backup_jobs` (pg_dump processes on one snapshot) and
// `restore_jobs` (pg_restore --jobs), as the form holds them and as the database page says them.
import type { Database, ParallelJobs } from './api';
import { plural } from './format';

/** The API accepts 1–16 for both. */
export const MAX_JOBS = 16;

/** The two numbers as typed. Empty: the default (1 backup process; the host's restore default). */
export interface JobsDraft {
  backup_jobs: string;
  restore_jobs: string;
}

export type JobsKey = keyof JobsDraft;

export function jobsDraft(db?: Pick<Database, 'backup_jobs' | 'restore_jobs'>): JobsDraft {
  return {
    backup_jobs: String(db?.backup_jobs ?? 1),
    restore_jobs: String(db?.restore_jobs ?? ''),
  };
}

/** What is wrong with what was typed, or null. A saved `restore_jobs` cannot be unset. */
export function checkJobs(d: JobsDraft, saved?: Pick<Database, 'restore_jobs'>): Record<JobsKey, string | null> {
  const check = (raw: string): string | null => {
    const t = raw.trim();
    if (t === '' || (/^\d+$/.test(t) && Number(t) >= 1 && Number(t) <= MAX_JOBS)) return null;
    return `must be a whole number from 1 to ${MAX_JOBS}`;
  };
  return {
    backup_jobs: check(d.backup_jobs),
    restore_jobs:
      d.restore_jobs.trim() === '' && typeof saved?.restore_jobs === 'number'
        ? `cannot be emptied once set: enter a number from 1 to ${MAX_JOBS}`
        : check(d.restore_jobs),
  };
}

/**
 * The request's fields: what differs from `saved` (a new database: from the defaults). Call after
 * `checkJobs` found nothing.
 */
export function jobsChanges(d: JobsDraft, saved?: Pick<Database, 'backup_jobs' | 'restore_jobs'>): ParallelJobs {
  const out: ParallelJobs = {};
  const backup = Number(d.backup_jobs.trim() || 1);
  if (backup !== (saved?.backup_jobs ?? 1)) out.backup_jobs = backup;
  if (d.restore_jobs.trim() !== '' && Number(d.restore_jobs) !== saved?.restore_jobs) out.restore_jobs = Number(d.restore_jobs);
  return out;
}

/** "2 pg_dump processes on one snapshot", or "one pg_dump stream". */
export function describeBackupJobs(jobs: number | undefined): string {
  return !jobs || jobs <= 1 ? 'one pg_dump stream' : `${plural(jobs, 'pg_dump process', 'pg_dump processes')} on one snapshot`;
}

/** "pg_restore with 3 jobs", or the default. */
export function describeRestoreJobs(jobs: number | null | undefined): string {
  return typeof jobs === 'number' ? `pg_restore with ${plural(jobs, 'job')}` : 'pg_restore with default jobs (min(4, cores))';
}
