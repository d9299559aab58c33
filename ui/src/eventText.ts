import type { LedgerEvent } from './api';
import { formatBytes, formatDuration, formatTime, plural } from './format';

function str(v: unknown): string | null {
  return typeof v === 'string' && v ? v : null;
}
function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
function errorMessage(p: Record<string, unknown>): string | null {
  const e = p.error;
  if (e && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    const stage = str(o.stage);
    const msg = str(o.message);
    if (msg) return stage ? `at ${stage}: ${msg}` : msg;
  }
  const msg = str(p.message) ?? str(p.reason);
  const stage = str(p.stage);
  return msg && stage ? `at ${stage}: ${msg}` : msg;
}

/** One line saying what happened, from the event type and whatever payload fields are present. */
export function describeEvent(e: LedgerEvent): string {
  const p = e.payload ?? {};
  switch (e.type) {
    case 'DatabaseRegistered': {
      const name = str(p.name);
      const engine = str(p.engine);
      return `Database registered${name ? `: ${name}` : ''}${engine ? ` (${engine})` : ''}`;
    }
    case 'DatabaseUpdated': {
      const changed = Object.keys(p).filter((k) => !['database_id', 'id'].includes(k));
      return `Database updated${changed.length ? `: ${changed.join(', ')}` : ''}`;
    }
    case 'DatabaseRemoved':
      return 'Database removed';
    case 'DatabasePaused':
      return 'Scheduled backups paused';
    case 'DatabaseResumed':
      return 'Scheduled backups resumed';
    case 'ScheduledRunClaimed': {
      const slot = str(p.slot);
      return `Scheduled run claimed${slot ? ` for slot ${formatTime(slot)}` : ''}${str(p.retry_of) ? ' (retry)' : ''}`;
    }
    case 'BackupPinned':
      return 'Version pinned';
    case 'BackupUnpinned':
      return 'Version unpinned';
    case 'BackupPruned': {
      const r = str(p.reason);
      return `Version pruned${r ? `: ${r}` : ''}`;
    }
    case 'BackupArtifactDeleted':
      return 'Pruned version’s files deleted';
    case 'BackupDeletionFailed': {
      const m = str(p.error);
      return `Deleting a pruned version’s files failed${m ? `: ${m}` : ''} (retried)`;
    }
    case 'BackupVerified': {
      const d = str(p.detail);
      return `${p.ok === false ? 'Verification failed' : 'Verified'}${d ? `: ${d}` : ''}`;
    }
    case 'DestinationsChanged': {
      const list = Array.isArray(p.destinations) ? p.destinations.map(String) : null;
      return list ? `Destinations set to ${list.join(', ')}` : 'Destinations set to every storage';
    }
    case 'BackupStarted': {
      const trigger = str(p.trigger);
      return `Backup started${trigger ? ` (${trigger})` : ''}`;
    }
    case 'BackupCompleted': {
      const bytes = num(p.bytes);
      const ms = num(p.duration_ms);
      const parts = [bytes !== null ? `${formatBytes(bytes)} stored` : null, ms !== null ? `in ${formatDuration(ms)}` : null];
      const tail = parts.filter(Boolean).join(' ');
      return `Backup completed${tail ? `: ${tail}` : ''}`;
    }
    case 'BackupFailed': {
      const m = errorMessage(p);
      return `Backup failed${m ? ` ${m.startsWith('at ') ? m : `: ${m}`}` : ''}`;
    }
    case 'BackupAbandoned':
      return 'Backup abandoned';
    case 'BackupCancelRequested':
      return 'Asked to stop the backup';
    case 'BackupCancelled': {
      const ms = num(p.duration_ms);
      return `Backup cancelled${ms !== null ? ` after ${formatDuration(ms)}` : ''}`;
    }
    case 'RestoreCancelRequested':
      return 'Asked to stop the restore';
    case 'RestoreCancelled': {
      const ms = num(p.duration_ms);
      return `Restore cancelled${ms !== null ? ` after ${formatDuration(ms)}` : ''}; the target is as it was`;
    }
    case 'RestoreStarted': {
      const t = str(p.target_database_name);
      return `Restore started${t ? ` into ${t}` : ''}`;
    }
    case 'RestoreCompleted': {
      const ms = num(p.duration_ms);
      return `Restore completed${ms !== null ? ` in ${formatDuration(ms)}` : ''}`;
    }
    case 'RestoreFailed': {
      const m = errorMessage(p);
      return `Restore failed${m ? ` ${m.startsWith('at ') ? m : `: ${m}`}` : ''}`;
    }
    case 'BackupCopyFailed': {
      const st = str(p.storage);
      const m = str(p.message);
      return `Copy${st ? ` to ${st}` : ''} failed${m ? `: ${m}` : ''}`;
    }
    case 'AlertRaised': {
      const kind = str(p.kind);
      const m = str(p.message);
      return `Alert raised${kind ? ` (${kind.replace(/_/g, ' ')})` : ''}${m ? `: ${m}` : ''}`;
    }
    case 'AlertRepeated': {
      const n = num(p.count);
      return `Alert repeated${n !== null ? ` (${n === 1 ? 'once' : plural(n, 'time')})` : ''}`;
    }
    case 'AlertNotified': {
      const outcome = str(p.outcome);
      const notice = str(p.notice);
      const attempt = num(p.attempt);
      return `Notification${notice ? ` (${notice})` : ''} ${outcome ?? 'sent'}${attempt !== null && attempt > 1 ? `, attempt ${attempt}` : ''}`;
    }
    case 'AlertAcknowledged':
      return `Alert acknowledged${str(p.actor) ? ` by ${str(p.actor)}` : ''}`;
    case 'AlertResolved':
      return `Alert resolved${str(p.by_type) ? ` by ${str(p.by_type)}` : ''}`;
    case 'ChannelAdded':
      return `Channel added${str(p.name) ? `: ${str(p.name)}` : ''}`;
    case 'ChannelRemoved':
      return 'Channel removed';
    case 'ChannelTested': {
      const outcome = str(p.outcome);
      return `Channel tested${outcome ? `: ${outcome}` : ''}`;
    }
    case 'WalArchivingEnabled': {
      const server = str(p.server);
      return `WAL archiving enabled${server ? ` for ${server}` : ''}`;
    }
    case 'WalArchivingDisabled':
      return 'WAL archiving disabled';
    case 'ArchiveDatabaseAdded':
      return `Database ${str(p.database_id) ?? ''} shares the server’s WAL archive`;
    case 'WalArchived': {
      const segs = Array.isArray(p.segments) ? (p.segments as Record<string, unknown>[]) : [];
      const total = segs.reduce((n, s) => n + (num(s.bytes) ?? 0), 0);
      return `${segs.length === 1 ? `WAL segment ${str(segs[0]?.name) ?? ''}` : plural(segs.length, 'WAL segment')} archived (${formatBytes(total)})`;
    }
    case 'WalReceiverExited': {
      const m = str(p.message);
      return `pg_receivewal stopped${m ? `: ${m}` : ''} (restarted)`;
    }
    case 'WalPruned': {
      const n = num(p.segments);
      const before = str(p.before);
      return `${n !== null ? plural(n, 'WAL segment') : 'WAL'} pruned${before ? ` before ${before}` : ''}${str(p.policy) ? ` (${str(p.policy)})` : ''}`;
    }
    case 'BaseBackupStarted': {
      const trigger = str(p.trigger);
      return `Base backup started${trigger ? ` (${trigger})` : ''}`;
    }
    case 'BaseBackupCompleted': {
      const ms = num(p.duration_ms);
      return `Base backup completed${str(p.start_lsn) ? ` from ${str(p.start_lsn)} to ${str(p.stop_lsn) ?? '?'}` : ''}${ms !== null ? ` in ${formatDuration(ms)}` : ''}`;
    }
    case 'BaseBackupFailed': {
      const m = errorMessage(p);
      return `Base backup failed${m ? ` ${m.startsWith('at ') ? m : `: ${m}`}` : ''}`;
    }
    case 'BaseBackupPruned': {
      const r = str(p.reason);
      return `Base backup pruned${r ? `: ${r}` : ''}`;
    }
    case 'BaseBackupArtifactDeleted':
      return 'Pruned base backup’s files deleted';
    case 'DrillConfigured': {
      const d = p.drill;
      if (!d || typeof d !== 'object') return 'Restore drill removed';
      const o = d as Record<string, unknown>;
      const sched = o.schedule && typeof o.schedule === 'object' ? str((o.schedule as Record<string, unknown>).cron) : null;
      return `Restore drill set${sched ? `: ${sched}` : ': when asked'}`;
    }
    case 'BackupJobsSet': {
      const n = num(p.backup_jobs);
      return n === 1 ? 'Backups run as one pg_dump' : `Backups run ${n ?? '?'} pg_dump processes on one snapshot`;
    }
    case 'RestoreJobsSet': {
      const n = num(p.restore_jobs);
      return n === 1 ? 'Restores into it run one pg_restore stream' : `Restores into it run pg_restore with ${n ?? '?'} jobs`;
    }
    case 'DrillSlotClaimed': {
      const slot = str(p.slot);
      return `Restore drill slot claimed${slot ? ` for ${formatTime(slot)}` : ''}`;
    }
    case 'RestoreDrillStarted': {
      const v = str(p.version);
      return `Restore drill started${v ? ` of version ${v.slice(0, 8)}` : ''}`;
    }
    case 'RestoreDrillCompleted': {
      const ms = num(p.duration_ms);
      const tables = Array.isArray(p.tables) ? p.tables.length : null;
      const anomalies = Array.isArray(p.anomalies) ? p.anomalies.length : 0;
      const head = anomalies > 0 ? `Restore drill found ${plural(anomalies, 'anomaly', 'anomalies')}` : 'Restore drill passed';
      const parts = [tables !== null ? plural(tables, 'table') : null, ms !== null ? `restored in ${formatDuration(ms)}` : null];
      const tail = parts.filter(Boolean).join(', ');
      return `${head}${tail ? `: ${tail}` : ''}`;
    }
    case 'RestoreDrillFailed': {
      const m = errorMessage(p);
      return `Restore drill failed${m ? ` ${m.startsWith('at ') ? m : `: ${m}`}` : ''}`;
    }
    case 'LedgerSealed': {
      const from = num(p.from);
      const to = num(p.to);
      return from !== null && to !== null
        ? `Ledger sealed: positions ${from} to ${to} (${num(p.count) ?? '?'} events)${str(p.signature) ? ', signed' : ''}`
        : 'Ledger sealed';
    }
    default:
      return e.type.replace(/([a-z])([A-Z])/g, '$1 $2');
  }
}

/** "bad" for failures, "good" for completions, "" otherwise — for colouring the type label. */
export function eventTone(type: string): 'bad' | 'good' | 'neutral' {
  if (/Failed$|Abandoned$|Removed$|Pruned$|^AlertRaised$|^AlertRepeated$/.test(type)) return 'bad';
  if (type === 'AlertResolved') return 'good';
  if (type === 'BackupVerified') return 'neutral';
  if (/Completed$/.test(type)) return 'good';
  return 'neutral';
}

/** The backup and restore this event concerns, found from its aggregate or its payload. */
export function eventLinks(e: LedgerEvent): {
  databaseId: string | null;
  backupId: string | null;
  restoreId: string | null;
  alertId: string | null;
  channelId: string | null;
} {
  const p = e.payload ?? {};
  return {
    alertId: e.aggregate_type === 'Alert' ? e.aggregate_id : null,
    channelId: e.aggregate_type === 'Channel' ? e.aggregate_id : str(p.channel_id),
    databaseId: e.database_id ?? (e.aggregate_type === 'Database' ? e.aggregate_id : str(p.database_id)),
    backupId:
      e.aggregate_type === 'Backup'
        ? e.aggregate_id
        : (str(p.backup_id) ?? (e.aggregate_type === 'Drill' ? str(p.version) : null)),
    restoreId: e.aggregate_type === 'Restore' ? e.aggregate_id : str(p.restore_id),
  };
}
