// Typed client for the Backline REST API v1 (docs/api.md). Every call goes through `request`,
// which adds the bearer token (or, for a signed-in session, the CSRF header on writes) and turns
// problem+json bodies into `ApiError`.
import { getCsrf, getToken } from './auth';

export type Engine = 'postgres' | 'mysql';

export interface BackupSummary {
  id: string;
  status: BackupStatus;
  started_at: string;
  finished_at: string | null;
  bytes: number | null;
}

export interface Database {
  id: string;
  name: string;
  engine: Engine;
  /** Redacted: the password is shown as `***`. */
  connection: string;
  /** The SSH bastion it is reached through. */
  ssh?: SshView | null;
  status: 'active' | 'removed';
  created_at: string;
  updated_at: string;
  last_backup: BackupSummary | null;
  last_successful_backup_at: string | null;
  backups_total: number;
  backups_completed: number;
  backups_failed: number;
  restores_total: number;
  running_backup_id: string | null;
  /** Null when the database is backed up by hand only. */
  schedule?: ScheduleView | null;
  /** Scheduled backups are stopped (manual ones still work). */
  paused?: boolean;
  /** Empty (or null) keeps every version. */
  retention?: Retention | null;
  last_claimed_slot?: string | null;
  /** Operators may restore into it (a staging or sandbox database). */
  restore_target?: boolean;
  /** Its restore drill (null: none). */
  drill?: DrillSettings | null;
  /** Its latest restore drill. */
  last_drill?: DrillSummary | null;
  /** PostgreSQL: `pg_dump` processes a backup runs on one exported snapshot (1–16; 1 is one stream). */
  backup_jobs?: number;
  /** PostgreSQL: `pg_restore --jobs` for restores into it (1–16); null: min(4, cores of the Backline host). */
  restore_jobs?: number | null;
}

export type Role = 'viewer' | 'operator' | 'admin';

/** GET /session: who is calling (a signed-in user, an API token or the bootstrap token). */
export interface SessionView {
  /** `user:<id>`, `token:<id>` or `token:bootstrap`. */
  actor: string;
  /** A username or a token's name. */
  name: string;
  /** A user's display name, when it has one. */
  display_name?: string | null;
  role: Role;
  /** The databases it is limited to (ids or name patterns); null: all. */
  databases: string[] | null;
  /** Sent back in `X-CSRF-Token` with a session's writes; null for bearer tokens. */
  csrf_token: string | null;
}

export interface User {
  id: string;
  username: string;
  display_name: string;
  role: Role;
  databases: string[] | null;
  disabled: boolean;
  /** `local` (password) or `oidc`. */
  origin: string;
  created_at: string;
  last_sign_in_at: string | null;
}

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  display_name?: string;
  databases?: string[];
}

export interface ApiToken {
  id: string;
  name: string;
  /** Who issued it: `user:<id>` or `token:bootstrap`. */
  owner: string;
  role: Role;
  databases: string[] | null;
  expires_at: string | null;
  revoked: boolean;
  revoked_at: string | null;
  created_at: string;
  last_used_at?: string | null;
}

export interface NewToken {
  name: string;
  role: Role;
  databases?: string[];
  /** RFC 3339. */
  expires_at?: string;
}

export type DrillSandbox = { target: { database_id: string } } | { new_database: { server_of: string } };

export interface DrillSettings {
  schedule: ScheduleView | null;
  sandbox: DrillSandbox;
  max_row_loss_percent: number;
  last_claimed_slot?: string | null;
}

/** PUT /databases/{id}/drill: exactly one sandbox; a timezone only with a schedule. */
export interface DrillBody {
  schedule?: string;
  timezone?: string;
  catch_up?: CatchUp;
  sandbox: { target_database_id: string } | { new_database: { server_of: string } };
  max_row_loss_percent?: number;
}

export type DrillStatus = 'running' | 'completed' | 'failed';

export interface DrillSummary {
  id: string;
  status: DrillStatus;
  version: string;
  finished_at: string | null;
  duration_ms: number | null;
  tables: number;
  anomalies: number;
}

export type DrillAnomaly =
  | { kind: 'vanished'; table: string; previous_rows: number }
  | { kind: 'rows_lost'; table: string; previous_rows: number; rows: number };

/** One restore drill: the version restored into the sandbox, and what the tables held. */
export interface Drill {
  id: string;
  database_id: string;
  database_name: string;
  version: string;
  status: DrillStatus;
  started_at: string;
  finished_at: string | null;
  restore_id: string | null;
  duration_ms: number | null;
  tables: { name: string; rows: number; checksum: string }[];
  compared_with: string | null;
  anomalies: DrillAnomaly[];
  failed_stage: string | null;
  error: string | null;
}

/** A database server: its databases are listed and registered in bulk. */
export interface Server {
  id: string;
  name: string;
  engine: Engine;
  /** Redacted: the password is shown as `***`. */
  connection: string;
  status: 'active' | 'removed';
  created_at: string;
  auto_register: { pattern: string | null; alert: boolean; schedule: string | null } | null;
  databases: { name: string; database_id: string | null; how: string; at: string; error: string | null }[];
}

export interface ServerDatabase {
  name: string;
  registered: boolean;
  database_id?: string;
}

export interface NewServer {
  name: string;
  engine: Engine;
  connection: string;
  auto_register?: { pattern?: string; alert?: boolean; schedule?: string };
}

/** The settings every database registered from a server gets, and which databases. */
export interface ServerRegistration {
  databases?: string[];
  pattern?: string;
  schedule?: string;
  timezone?: string;
  retention?: Retention;
}

export interface VersionContents {
  backup_id: string;
  engine: Engine;
  schemas: string[];
  tables: { name: string; schema: string | null; table: string; rows: number | null }[];
  objects: { kind: string; schema: string | null; name: string }[];
}

export type CatchUp = 'latest' | 'none' | 'all';

export interface ScheduleView {
  cron: string;
  /** IANA time zone the cron expression is evaluated in. */
  timezone: string;
  catch_up: CatchUp;
  /** The schedule in words, from the server's parser. */
  description: string;
  since: string;
  /** UTC; null while paused. */
  next_run_at: string | null;
  /** The same instant in the schedule's time zone (RFC 3339 with offset). */
  next_run_at_local: string | null;
}

export const RETENTION_KEYS = [
  'keep_last',
  'keep_daily',
  'keep_weekly',
  'keep_monthly',
  'keep_yearly',
  'max_age_days',
  'min_keep',
] as const;
export type RetentionKey = (typeof RETENTION_KEYS)[number];
export type Retention = Partial<Record<RetentionKey, number>>;

export interface SchedulePreview {
  description: string;
  /** UTC. */
  next_runs: string[];
  /** The same runs in the schedule's time zone (RFC 3339 with offset). */
  next_runs_local: string[];
}

export interface PruneItem {
  id: string;
  finished_at: string;
  bytes: number | null;
  reason: string;
}

export interface PrunePlan {
  database_id: string;
  policy: string;
  prune: PruneItem[];
  /** Completed versions that stay. */
  kept: number;
}

export interface StageError {
  stage: string;
  message: string;
  stderr_tail: string | null;
}

export type BackupStatus = 'running' | 'completed' | 'failed' | 'abandoned' | 'cancelled' | 'pruned';

export interface Backup {
  id: string;
  database_id: string;
  database_name: string;
  engine: Engine;
  status: BackupStatus;
  trigger: 'manual' | 'scheduled';
  actor: string;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  bytes: number | null;
  raw_bytes: number | null;
  sha256: string | null;
  storage: string | null;
  storage_key: string | null;
  compression: string;
  tool: string | null;
  tool_version: string | null;
  server_version: string | null;
  node: string | null;
  error: StageError | null;
  /** The scheduled slot this backup ran for (scheduled runs only). */
  slot?: string | null;
  /** A pinned version is never pruned. */
  pinned?: boolean;
  pruned_at?: string | null;
  prune_reason?: string | null;
  /** For pruned versions: whether the stored files are gone yet. */
  artifact_deleted?: boolean;
  /** GET /backups/{id} only: raw bytes dumped so far while running. */
  progress_bytes?: number | null;
  /** For a completed version: the shell command that restores its download by hand. */
  manual_restore_command?: string | null;
  /** Who asked this running backup to stop. */
  cancel_requested_by?: string | null;
  progress?: WorkProgress | null;
  /** The stored artifact is encrypted (age). */
  encrypted?: boolean;
  /** One entry per destination; empty unless the backup was streamed to several. */
  copies?: BackupCopy[];
  /** Completed, but at least one destination did not get its copy. */
  degraded?: boolean;
  /** The last `POST /backups/{id}/verify`; null when never verified. */
  verified_at?: string | null;
  verified_ok?: boolean | null;
  verification_detail?: string | null;
  /** A pruned version whose files could not be deleted yet. */
  deletion_error?: string | null;
  /** What the dump tool is known not to keep exactly (e.g. MariaDB FLOAT columns). */
  warnings?: string[];
}

/** One destination's copy of a backup's artifact. */
export interface BackupCopy {
  name: string;
  storage: string;
  key: string;
  sha256: string;
  ok: boolean;
  error?: string | null;
}

/** The answer of `POST /backups/{id}/verify`: `ok: false` is a failed check, not an error. */
export interface Verification {
  backup_id: string;
  ok: boolean;
  detail: string;
}

export type RestoreStatus = 'running' | 'completed' | 'failed' | 'cancelled';

export interface Restore {
  id: string;
  backup_id: string;
  source_database_id: string;
  target_database_id: string;
  target_database_name: string;
  engine: Engine;
  status: RestoreStatus;
  actor: string;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  previous_kept_as: string | null;
  error: StageError | null;
  tool?: string | null;
  tool_version?: string | null;
  server_version?: string | null;
  /** Local space the verified copy of the artifact takes while the restore runs. */
  local_copy_bytes?: number | null;
  /** What the restore could not bring back exactly. */
  warnings?: string[];
  /** A point-in-time restore: the second (or LSN) it restores to, and its current step. */
  target_time?: string | null;
  target_lsn?: string | null;
  step?: string | null;
  /** A whole-cluster point-in-time restore: the directory its data directory was written to. */
  cluster_path?: string | null;
  /** Who asked this running restore to stop. */
  cancel_requested_by?: string | null;
  progress?: WorkProgress | null;
}

/** WAL archiving of a PostgreSQL database's server (one archive per server). */
export interface ArchiveStatus {
  database_id: string;
  /** The server's archive: the id of the database that first enabled it. */
  archive_id: string;
  /** Every registered database sharing the archive. */
  databases: string[];
  enabled: boolean;
  /** `host:port` */
  server: string | null;
  slot: string | null;
  server_major: number | null;
  base_backup_schedule: string | null;
  keep_base_backups: number | null;
  keep_days: number | null;
  segments: number;
  newest_segment: string | null;
}

export interface EnableArchiving {
  base_backup_schedule?: string;
  keep_base_backups?: number;
  keep_days?: number;
}

export interface RecoveryInterval {
  from: string;
  to: string;
}

export interface RecoveryWindow {
  intervals: RecoveryInterval[];
  gaps: { missing_segment: string; after: string | null }[];
}

export interface BaseBackup {
  id: string;
  database_id: string;
  status: 'running' | 'completed' | 'failed' | 'pruned';
  trigger: string;
  start_lsn: string | null;
  stop_lsn: string | null;
  started_at: string | null;
  stopped_at: string | null;
  bytes: number | null;
  duration_ms: number | null;
  error: string | null;
}

/** A scratch database a restore left on its target's server when its process died. */
export interface Leftover {
  scratch_database: string;
  engine: Engine;
  /** `host:port` */
  server: string;
  restore_id: string;
  restore_started_at: string;
  target_database_id: string;
  target_database_name: string;
  restore_error: string | null;
}

export interface LedgerEvent {
  position: number;
  type: string;
  aggregate_type: 'Database' | 'Backup' | 'Restore' | 'Alert' | 'Channel' | string;
  aggregate_id: string;
  sequence: number;
  database_id: string | null;
  at: string;
  /** Who acted: `user:<id>`, `token:<id>`, `system:scheduler`, `import`, … */
  actor: string;
  /** The name to show for `actor` (older events may lack it). */
  actor_name?: string;
  correlation_id: string | null;
  node: string | null;
  payload: Record<string, unknown>;
}

export interface EventPage {
  items: LedgerEvent[];
  next: number | null;
}

/** How far a running backup or restore got (in this server's process or another one). */
export interface WorkProgress {
  /** `dump` (a backup), `download` or `load` (a restore). */
  phase: string;
  bytes: number;
  expected_bytes: number | null;
  percent: number | null;
  eta_seconds: number | null;
}

export interface MissingPrivilege {
  privilege: string;
  object: string;
  effect: string;
}

export interface ConnectionTest {
  ok: boolean;
  /** ok, and the user holds every privilege a backup needs. */
  ready?: boolean;
  server_version: string | null;
  message: string;
  missing?: MissingPrivilege[];
  missing_total?: number;
}

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: FieldError[];
}

export const EVENT_TYPES = [
  'DatabaseRegistered',
  'DatabaseUpdated',
  'DatabasePaused',
  'DatabaseResumed',
  'ScheduledRunClaimed',
  'DatabaseRemoved',
  'DestinationsChanged',
  'BackupStarted',
  'BackupCompleted',
  'BackupFailed',
  'BackupAbandoned',
  'BackupCancelRequested',
  'BackupCancelled',
  'BackupPinned',
  'BackupUnpinned',
  'BackupPruned',
  'BackupArtifactDeleted',
  'BackupDeletionFailed',
  'BackupVerified',
  'RestoreStarted',
  'RestoreCompleted',
  'RestoreFailed',
  'RestoreCancelRequested',
  'RestoreCancelled',
  'BackupCopyFailed',
  'AlertRaised',
  'AlertRepeated',
  'AlertNotified',
  'AlertAcknowledged',
  'AlertResolved',
  'ChannelAdded',
  'ChannelRemoved',
  'ChannelTested',
  'LedgerSealed',
] as const;

export type AlertState = 'open' | 'acknowledged' | 'resolved';

/** One delivery attempt of one notice to one channel. */
export interface Delivery {
  channel_id: string;
  /** `raised`, `reminder` or `resolved`. */
  notice: string;
  outcome: 'delivered' | 'failed' | string;
  status_code: number | null;
  error: string | null;
  attempt: number;
  at: string;
  position: number;
}

export interface Alert {
  id: string;
  /** `backup_failed`, `backup_abandoned`, `backup_stalled`, `restore_failed`, `missed_schedule`, `storage_failure`, `leftover_scratch`, `ledger_integrity` (database_id `ledger`), `verify_failed`, `wal_gap`, `drill_anomaly`. */
  kind: string;
  state: AlertState;
  database_id: string;
  database_name: string;
  message: string;
  /** Tail of the tool's stderr, when there is one (may be empty). */
  detail: string;
  /** How many times it happened while open. */
  count: number;
  cause_event: number | null;
  raised_at: string;
  raised_position: number;
  last_seen_at: string;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  resolved_at: string | null;
  resolved_position: number | null;
  resolved_by: string | null;
  /** Every delivery attempt, oldest first. */
  deliveries: Delivery[];
}

export interface ChannelTestRecord {
  at: string;
  outcome: string;
  status_code: number | null;
  error: string | null;
}

export type WebhookStyle = 'slack' | 'discord' | 'generic' | 'mattermost' | 'teams' | 'telegram' | 'ntfy' | 'gotify';

export interface Channel {
  id: string;
  name: string;
  type: 'email' | 'webhook';
  to: string[];
  style: WebhookStyle | null;
  /** Shortened: the rest of a webhook URL is a credential. */
  url: string | null;
  /** Telegram: the chat messages go to. */
  chat_id?: string | null;
  /** ntfy and Gotify: the priority messages are sent with. */
  priority?: number | null;
  /** A signing secret is set (generic webhooks). */
  signed: boolean;
  /** A token is set (Telegram, ntfy, Gotify); it is never shown. */
  token_set?: boolean;
  status: 'active' | 'removed';
  created_at: string;
  created_position: number;
  removed_at: string | null;
  deliveries_ok: number;
  deliveries_failed: number;
  consecutive_failures: number;
  failing: boolean;
  last_error: string | null;
  last_error_at: string | null;
  last_delivered_at: string | null;
  /** The last `POST /channels/{id}/test`, or null. */
  last_test: ChannelTestRecord | null;
}

/** The 201 answer: the channel, plus a generic webhook's signing secret — shown only this once. */
export interface CreatedChannel extends Channel {
  secret: string | null;
}

export interface NewChannel {
  name: string;
  type: 'email' | 'webhook';
  to?: string[];
  url?: string;
  style?: WebhookStyle;
  secret?: string;
  /** Telegram bot token, ntfy access token or Gotify application token. */
  token?: string;
  chat_id?: string;
  priority?: number;
}

export interface ChannelTest {
  ok: boolean;
  status_code: number | null;
  error: string | null;
}

/** A non-2xx answer. `problem` is the parsed problem+json body when the server sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(describeProblem(status, problem));
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem.errors?.length ? problem : withBodyFieldError(problem);
  }

  /** Messages for one field, e.g. `connection`; also matches nested names like `connection.host`. */
  fieldErrors(field: string): string[] {
    return (this.problem.errors ?? [])
      .filter((e) => e.field === field || e.field.startsWith(`${field}.`))
      .map((e) => e.message);
  }
}

/**
 * Every field error of a failed request. A 409 carries no `errors` (e.g. "a database named … is
 * already registered"): with `conflictField` it becomes that field's error, so that it shows
 * beside the field it is about.
 */
export function fieldErrorsOf(error: unknown, conflictField?: string): FieldError[] {
  if (!(error instanceof ApiError)) return [];
  if (error.problem.errors?.length) return error.problem.errors;
  if (error.status === 409 && conflictField) {
    return [{ field: conflictField, message: error.problem.detail || error.problem.title || 'is already taken' }];
  }
  return [];
}

/**
 * A request body the server could not deserialize (e.g. an unknown `retention` key or a negative
 * number) comes back as 422 with the JSON path only in `detail`:
 * "invalid request body: Failed to deserialize …: retention.keep_last: invalid value: … at line 1 column 9".
 * Turn that path into a field error so the form can show it next to the field.
 */
function withBodyFieldError(p: Problem): Problem {
  const m = /deserialize the JSON body[^:]*: ([a-z_]+(?:\.[a-z_]+)*): (.+?)(?: at line \d+ column \d+)?$/.exec(p.detail ?? '');
  if (!m) return p;
  return { ...p, errors: [{ field: m[1]!, message: m[2]! }] };
}

function describeProblem(status: number, p: Problem): string {
  const head = p.title ?? `HTTP ${status}`;
  return p.detail && p.detail !== head ? `${head}: ${p.detail}` : head;
}

type UnauthorizedListener = () => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Tells every listener that the server answered 401 (used by the event stream, which bypasses `request`). */
export function notifyUnauthorized(): void {
  unauthorizedListeners.forEach((l) => l());
}

/** Called whenever the server answers 401, so the app can drop the token and ask again. */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

const BASE = '/api/v1';

/** Where a version's stored object is downloaded from (sent with the session cookie). */
export function downloadUrl(backupId: string): string {
  return `${BASE}/backups/${encodeURIComponent(backupId)}/download`;
}

/** Fetches a version's stored object with the API token; fails when the transfer does. */
export async function fetchDownload(backupId: string): Promise<{ blob: Blob; fileName: string }> {
  const token = getToken();
  const res = await fetch(downloadUrl(backupId), {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (!res.ok) {
    let body: { title?: string; detail?: string } = {};
    try {
      body = (await res.json()) as typeof body;
    } catch {
      // not a problem document
    }
    throw new ApiError(res.status, { title: body.title ?? `HTTP ${res.status}`, detail: body.detail });
  }
  const blob = await res.blob();
  const disposition = res.headers.get('Content-Disposition') ?? '';
  const fileName = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `${backupId}.artifact`;
  return { blob, fileName };
}

interface RequestOptions {
  method?: string;
  body?: unknown;
  /** Token to use instead of the stored one (sign-in checks a token before storing it). */
  token?: string;
  /** Whether a 401 should sign the user out (false while checking a token at sign-in). */
  signOutOn401?: boolean;
  signal?: AbortSignal;
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const token = opts.token ?? getToken();
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const method = opts.method ?? 'GET';
  const csrf = getCsrf();
  if (!token && csrf && method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';

  let res: Response;
  try {
    res = await fetch(BASE + path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, {
      title: 'Cannot reach the Backline server',
      detail: e instanceof Error ? e.message : String(e),
    });
  }

  if (!res.ok) {
    const problem = await readProblem(res);
    if (res.status === 401 && opts.signOutOn401 !== false) {
      unauthorizedListeners.forEach((l) => l());
    }
    throw new ApiError(res.status, problem);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

async function readProblem(res: Response): Promise<Problem> {
  const text = await res.text().catch(() => '');
  if (text) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object') return parsed as Problem;
    } catch {
      // Not JSON (e.g. a proxy's HTML error page): fall through and show the status line.
    }
  }
  return { title: `HTTP ${res.status} ${res.statusText}`.trim(), status: res.status, detail: text.slice(0, 300) || undefined };
}

function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const enc = encodeURIComponent;

/** One page of a list route: `next` is the `cursor` of the following (older) page. */
export interface ListPage<T> {
  items: T[];
  next: string | null;
  total?: number | null;
}

/** Every item of a list route, following `next` a page of 1000 at a time. */
export async function allPages<T>(
  path: string,
  params: Record<string, string | number | boolean | null | undefined> = {},
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await request<ListPage<T>>(`${path}${query({ ...params, limit: 1000, cursor })}`);
    items.push(...page.items);
    if (!page.next || page.next === cursor) return items;
    cursor = page.next;
  }
}

export interface ScheduleSettings {
  schedule?: string;
  timezone?: string;
  catch_up?: CatchUp;
  retention?: Retention;
}

/** PostgreSQL only: MySQL/MariaDB refuse anything above 1 (422 naming the field). */
export interface ParallelJobs {
  /** 1–16, default 1. */
  backup_jobs?: number;
  /** 1–16; once set it can be changed but not unset. */
  restore_jobs?: number;
}

export interface NewDatabase extends ScheduleSettings, ParallelJobs {
  name: string;
  engine: Engine;
  connection: string;
  ssh?: SshBlock;
}

/** An SSH bastion as responses show it (never its secret). */
export interface SshView {
  host: string;
  port: number;
  user: string;
  host_key_fingerprint: string;
  auth: 'key' | 'password';
}

/** An SSH bastion as a request gives it: exactly one of private_key and password. */
export interface SshBlock {
  host: string;
  port?: number;
  user: string;
  private_key?: string;
  password?: string;
  host_key_fingerprint: string;
}

/** A host key a bastion offers (POST /ssh/scan). */
export interface HostKey {
  algorithm: string;
  fingerprint: string;
}

export interface DatabasePatch extends Omit<ScheduleSettings, 'schedule'>, ParallelJobs {
  name?: string;
  connection?: string;
  /** `null` connects directly again. */
  ssh?: SshBlock | null;
  /** `null` removes the schedule. */
  schedule?: string | null;
}

export interface LedgerProblem {
  position: number;
  message: string;
}

export interface LedgerVerification {
  ok: boolean;
  events: number;
  sealed: number;
  unsealed: number;
  blocks: number;
  anchors: number;
  storages: number;
  first_bad_position: number | null;
  problems: LedgerProblem[];
  public_key: string;
  verified_at: string;
  duration_ms: number;
}

/** GET /ledger: the signing key, how far the ledger is sealed, the last verification. */
export interface LedgerStatus {
  public_key: string;
  head: number;
  blocks: number;
  sealed_to: number;
  last_sealed_at: string | null;
  last_verification: LedgerVerification | null;
}

export interface EventQuery {
  after?: number;
  before?: number;
  limit?: number;
  database_id?: string;
  type?: string;
  order?: 'asc' | 'desc';
}

export const api = {
  /** Checks a token without storing it: any authenticated GET will do. */
  checkToken: (token: string) =>
    request<{ items: Database[] }>('/databases', { token, signOutOn401: false }),

  /** Who is calling; `signOutOn401: false` while finding out whether a session cookie is there. */
  session: (signOutOn401 = true) => request<SessionView>('/session', { signOutOn401 }),
  signIn: (username: string, password: string) =>
    request<SessionView>('/session', { method: 'POST', body: { username, password }, signOutOn401: false }),
  signOut: () => request<void>('/session', { method: 'DELETE', signOutOn401: false }),

  listUsers: () => request<{ items: User[] }>('/users').then((r) => r.items),
  createUser: (body: NewUser) => request<{ id: string }>('/users', { method: 'POST', body }),
  updateUser: (id: string, body: { role?: Role; disabled?: boolean }) =>
    request<User>(`/users/${enc(id)}`, { method: 'PATCH', body }),
  listTokens: () => request<{ items: ApiToken[] }>('/tokens').then((r) => r.items),
  issueToken: (body: NewToken) => request<{ id: string; token: string }>('/tokens', { method: 'POST', body }),
  revokeToken: (id: string) => request<void>(`/tokens/${enc(id)}`, { method: 'DELETE' }),

  listDatabases: (includeRemoved = false) =>
    request<{ items: Database[] }>(`/databases${query({ include_removed: includeRemoved || undefined })}`).then(
      (r) => r.items,
    ),
  getDatabase: (idOrName: string) => request<Database>(`/databases/${enc(idOrName)}`),
  createDatabase: (body: NewDatabase) => request<Database>('/databases', { method: 'POST', body }),
  updateDatabase: (id: string, body: DatabasePatch) =>
    request<Database>(`/databases/${enc(id)}`, { method: 'PATCH', body }),
  removeDatabase: (id: string) => request<void>(`/databases/${enc(id)}`, { method: 'DELETE' }),
  testSavedConnection: (id: string) =>
    request<ConnectionTest>(`/databases/${enc(id)}/test`, { method: 'POST' }),
  testConnection: (engine: Engine, connection: string, ssh?: SshBlock) =>
    request<ConnectionTest>('/databases/test', { method: 'POST', body: ssh ? { engine, connection, ssh } : { engine, connection } }),
  /** The host keys a bastion offers, for the operator to confirm one (nothing is trusted). */
  scanSsh: (host: string, port: number) =>
    request<{ keys: HostKey[] }>('/ssh/scan', { method: 'POST', body: { host, port } }).then((r) => r.keys),

  startBackup: (databaseId: string) =>
    request<{ id: string }>(`/databases/${enc(databaseId)}/backups`, { method: 'POST' }),
  listBackups: (databaseId: string) => allPages<Backup>(`/databases/${enc(databaseId)}/backups`),
  getBackup: (id: string) => request<Backup>(`/backups/${enc(id)}`),
  cancelBackup: (id: string) => request<{ id: string }>(`/backups/${enc(id)}/cancel`, { method: 'POST' }),
  cancelRestore: (id: string) => request<{ id: string }>(`/restores/${enc(id)}/cancel`, { method: 'POST' }),
  /** Re-reads every healthy copy (sha256, decrypt, decompress) and records the result on the backup. */
  verifyBackup: (id: string) => request<Verification>(`/backups/${enc(id)}/verify`, { method: 'POST', body: {} }),

  startRestore: (
    backupId: string,
    targetDatabaseId?: string,
    options: {
      noOwner?: boolean;
      tables?: string[];
      noDefiner?: boolean;
      newDatabase?: { name: string; serverOf: string };
    } = {},
  ) =>
    request<{ id: string }>(`/backups/${enc(backupId)}/restore`, {
      method: 'POST',
      body: {
        ...(targetDatabaseId ? { target_database_id: targetDatabaseId } : {}),
        ...(options.noOwner ? { no_owner: true } : {}),
        ...(options.tables ? { tables: options.tables } : {}),
        ...(options.noDefiner ? { no_definer: true } : {}),
        ...(options.newDatabase
          ? { new_database: { name: options.newDatabase.name, server_of: options.newDatabase.serverOf } }
          : {}),
      },
    }),
  backupContents: (backupId: string) => request<VersionContents>(`/backups/${enc(backupId)}/contents`),

  listServers: () => request<{ items: Server[] }>('/servers').then((r) => r.items),
  createServer: (body: NewServer) => request<Server>('/servers', { method: 'POST', body }),
  removeServer: (id: string) => request<void>(`/servers/${enc(id)}`, { method: 'DELETE' }),
  serverDatabases: (id: string) =>
    request<{ items: ServerDatabase[] }>(`/servers/${enc(id)}/databases`).then((r) => r.items),
  registerServerDatabases: (id: string, body: ServerRegistration) =>
    request<{ items: { name: string; id: string }[] }>(`/servers/${enc(id)}/register`, { method: 'POST', body }).then(
      (r) => r.items,
    ),
  getArchiving: (databaseId: string) => request<ArchiveStatus>(`/databases/${enc(databaseId)}/archiving`),
  enableArchiving: (databaseId: string, body: EnableArchiving) =>
    request<ArchiveStatus>(`/databases/${enc(databaseId)}/archiving`, { method: 'POST', body }),
  disableArchiving: (databaseId: string) =>
    request<ArchiveStatus>(`/databases/${enc(databaseId)}/archiving`, { method: 'DELETE' }),
  startBaseBackup: (databaseId: string) =>
    request<{ id: string }>(`/databases/${enc(databaseId)}/base-backups`, { method: 'POST' }),
  getBaseBackup: (id: string) => request<BaseBackup>(`/base-backups/${enc(id)}`),
  recoveryWindow: (databaseId: string) => request<RecoveryWindow>(`/databases/${enc(databaseId)}/recovery-window`),
  /** Restores the database as it was at `targetTime` (RFC 3339) into a registered database. */
  startPitr: (databaseId: string, targetTime: string, into: { targetDatabaseId?: string; clusterPath?: string } = {}) =>
    request<{ id: string }>(`/databases/${enc(databaseId)}/restore-pitr`, {
      method: 'POST',
      body: {
        target_time: targetTime,
        ...(into.targetDatabaseId ? { target_database_id: into.targetDatabaseId } : {}),
        ...(into.clusterPath ? { cluster_path: into.clusterPath } : {}),
      },
    }),
  listRestores: (databaseId: string) => allPages<Restore>('/restores', { database_id: databaseId }),
  getRestore: (id: string) => request<Restore>(`/restores/${enc(id)}`),
  listLeftovers: () => request<{ items: Leftover[] }>('/leftovers').then((r) => r.items),

  listDrills: (databaseId: string) =>
    request<{ items: Drill[] }>(`/databases/${enc(databaseId)}/drills`).then((r) => r.items),
  setDrill: (databaseId: string, body: DrillBody) =>
    request<Database>(`/databases/${enc(databaseId)}/drill`, { method: 'PUT', body }),
  removeDrill: (databaseId: string) => request<Database>(`/databases/${enc(databaseId)}/drill`, { method: 'DELETE' }),
  startDrill: (databaseId: string) => request<{ id: string }>(`/databases/${enc(databaseId)}/drills`, { method: 'POST' }),
  pauseDatabase: (id: string) => request<Database>(`/databases/${enc(id)}/pause`, { method: 'POST' }),
  resumeDatabase: (id: string) => request<Database>(`/databases/${enc(id)}/resume`, { method: 'POST' }),
  schedulePreview: (cron: string, timezone: string, count = 5, signal?: AbortSignal) =>
    request<SchedulePreview>(`/schedules/preview${query({ cron, timezone, count })}`, { signal }),
  retentionPreview: (databaseId: string) => request<PrunePlan>(`/databases/${enc(databaseId)}/retention/preview`),
  applyRetention: (databaseId: string) =>
    request<PrunePlan>(`/databases/${enc(databaseId)}/retention/prune${query({ dry_run: 'false' })}`, { method: 'POST' }),
  pinBackup: (id: string) => request<Backup>(`/backups/${enc(id)}/pin`, { method: 'POST' }),
  unpinBackup: (id: string) => request<Backup>(`/backups/${enc(id)}/unpin`, { method: 'POST' }),

  ledger: () => request<LedgerStatus>('/ledger'),
  verifyLedger: () => request<LedgerVerification>('/ledger/verify'),

  events: (q: EventQuery) => request<EventPage>(`/events${query({ ...q })}`),
  /** Path (under the site root) of the live event stream; read it with `streamEvents` (sse.ts). */
  eventStreamUrl: (databaseId?: string) => `${BASE}/events/stream${query({ database_id: databaseId })}`,

  listAlerts: (state?: AlertState, databaseId?: string) =>
    allPages<Alert>('/alerts', { state, database_id: databaseId }),
  acknowledgeAlert: (id: string) => request<Alert>(`/alerts/${enc(id)}/acknowledge`, { method: 'POST' }),

  listChannels: () => request<{ items: Channel[] }>('/channels').then((r) => r.items),
  createChannel: (body: NewChannel) => request<CreatedChannel>('/channels', { method: 'POST', body }),
  removeChannel: (id: string) => request<void>(`/channels/${enc(id)}`, { method: 'DELETE' }),
  testChannel: (id: string) => request<ChannelTest>(`/channels/${enc(id)}/test`, { method: 'POST' }),
};
