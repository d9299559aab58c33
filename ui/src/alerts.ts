import { useQuery } from '@tanstack/react-query';
import { api, type Alert, type Delivery } from './api';

/** Open alerts, shared by the navigation count, the dashboard markers and the Alerts page. */
export function useOpenAlerts() {
  return useQuery({
    queryKey: ['alerts', 'open'],
    queryFn: () => api.listAlerts('open'),
    refetchInterval: 5_000,
  });
}

const KINDS: Record<string, string> = {
  backup_failed: 'Backup failed',
  backup_abandoned: 'Backup abandoned',
  backup_stalled: 'Backup stalled',
  restore_failed: 'Restore failed',
  missed_schedule: 'Missed schedule',
  storage_failure: 'Storage failure',
  leftover_scratch: 'Leftover scratch database',
  ledger_integrity: 'Ledger integrity',
  verify_failed: 'Verification failed',
  drill_anomaly: 'Restore drill anomaly',
  wal_gap: 'Gap in the WAL archive',
};

export function alertKindLabel(kind: string): string {
  return KINDS[kind] ?? kind.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

/** Database ids with at least one open alert, and how many. */
export function openAlertsByDatabase(alerts: Alert[] | undefined): Map<string, number> {
  const m = new Map<string, number>();
  for (const a of alerts ?? []) {
    if (a.state !== 'open' || !a.database_id) continue;
    m.set(a.database_id, (m.get(a.database_id) ?? 0) + 1);
  }
  return m;
}

export interface DeliveryGroup {
  channelId: string;
  notice: string;
  /** Outcome of the latest attempt. */
  outcome: string;
  /** Attempts made (the highest attempt number). */
  attempts: number;
  statusCode: number | null;
  lastAt: string;
  /** Every attempt, oldest first. */
  items: Delivery[];
  /** Distinct error messages, in the order they first appeared. */
  errors: string[];
}

/** Delivery attempts grouped per channel and notice (raised / reminder / resolved), in first-attempt order. */
export function groupDeliveries(deliveries: Delivery[]): DeliveryGroup[] {
  const groups = new Map<string, DeliveryGroup>();
  for (const d of [...deliveries].sort((a, b) => a.position - b.position)) {
    const key = `${d.channel_id}\n${d.notice}`;
    let g = groups.get(key);
    if (!g) {
      g = { channelId: d.channel_id, notice: d.notice, outcome: d.outcome, attempts: 0, statusCode: null, lastAt: d.at, items: [], errors: [] };
      groups.set(key, g);
    }
    g.items.push(d);
    g.outcome = d.outcome;
    g.attempts = Math.max(g.attempts, d.attempt, g.items.length);
    g.statusCode = d.status_code;
    g.lastAt = d.at;
    if (d.error && !g.errors.includes(d.error)) g.errors.push(d.error);
  }
  return [...groups.values()];
}

/**
 * Webhook URLs are credentials (Slack's and Discord's carry the secret in the path): show only the
 * scheme, host and first path segment of any URL inside an error message.
 */
export function redactUrls(text: string): string {
  return text.replace(/\b(https?:\/\/[^/\s?#)"']+)(\/[^/\s?#)"']*)?([^\s)"']*)/g, (_m, origin: string, first?: string, rest?: string) =>
    rest ? `${origin}${first ?? ''}/…` : `${origin}${first ?? ''}`,
  );
}
