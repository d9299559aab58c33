import { useMemo, useRef, type KeyboardEvent } from 'react';
import { useMutation, useQuery, useQueryClient, type UseQueryResult } from '@tanstack/react-query';
import { api, type Alert, type Channel } from '../api';
import { alertKindLabel, groupDeliveries, redactUrls, useOpenAlerts } from '../alerts';
import { ErrorMessage } from '../components/ErrorMessage';
import { Time } from '../components/Time';
import { plural } from '../format';
import { DatabaseLink } from '../components/Refs';
import { Link, navigate, useLocation } from '../router';
import { useAccess } from '../access';
import { Denied } from '../components/Denied';

type View = 'unresolved' | 'resolved';

const TABS: { view: View; label: string }[] = [
  { view: 'unresolved', label: 'Unresolved' },
  { view: 'resolved', label: 'Resolved' },
];

/** Acknowledged alerts: someone is on it, but what failed has not succeeded since. */
function useAcknowledgedAlerts() {
  return useQuery({
    queryKey: ['alerts', 'acknowledged'],
    queryFn: () => api.listAlerts('acknowledged'),
    refetchInterval: 5_000,
  });
}

/**
 * Alerts that are not resolved (open ones first, then the acknowledged ones under their own
 * heading: acknowledging is not fixing) and the resolved ones, with what was delivered where.
 * The page says "fine" only when nothing is open or acknowledged.
 */
export function Alerts() {
  const { params } = useLocation();
  // `?state=acknowledged` (old links) shows the unresolved view, where the acknowledged ones are.
  const view: View = params.get('state') === 'resolved' ? 'resolved' : 'unresolved';
  const open = useOpenAlerts();
  const acknowledged = useAcknowledgedAlerts();
  const resolved = useQuery({
    queryKey: ['alerts', 'resolved'],
    queryFn: () => api.listAlerts('resolved'),
    refetchInterval: 5_000,
    enabled: view === 'resolved',
  });
  const channels = useQuery({ queryKey: ['channels'], queryFn: api.listChannels, staleTime: 30_000 });
  const channelNames = useMemo(() => new Map((channels.data ?? []).map((c: Channel) => [c.id, c.name])), [channels.data]);

  const tabRefs = useRef<(HTMLButtonElement | null)[]>([]);
  const select = (v: View) => navigate(v === 'unresolved' ? '/alerts' : `/alerts?state=${v}`, { replace: true });
  function onKey(e: KeyboardEvent<HTMLButtonElement>, i: number) {
    const last = TABS.length - 1;
    const next = e.key === 'ArrowRight' ? (i === last ? 0 : i + 1) : e.key === 'ArrowLeft' ? (i === 0 ? last : i - 1) : e.key === 'Home' ? 0 : e.key === 'End' ? last : null;
    if (next === null) return;
    e.preventDefault();
    select(TABS[next]!.view);
    tabRefs.current[next]?.focus();
  }

  const openCount = open.data?.length;
  const ackCount = acknowledged.data?.length;
  const unresolvedCount = openCount !== undefined && ackCount !== undefined ? openCount + ackCount : undefined;
  return (
    <section className="page">
      <div className="page-head">
        <h1>Alerts</h1>
        <Link to="/channels" className="button">
          Channels
        </Link>
      </div>
      <div role="tablist" aria-label="Alerts" className="tabs">
        {TABS.map((t, i) => (
          <button
            key={t.view}
            ref={(el) => {
              tabRefs.current[i] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${t.view}`}
            aria-selected={t.view === view}
            aria-controls="alerts-panel"
            tabIndex={t.view === view ? 0 : -1}
            className="tab"
            onClick={() => select(t.view)}
            onKeyDown={(e) => onKey(e, i)}
          >
            {t.label}
            {t.view === 'unresolved' && (
              <span
                className={`count${(openCount ?? 0) > 0 ? ' count-bad' : (ackCount ?? 0) > 0 ? ' count-warn' : ''}`}
                data-testid="unresolved-tab-count"
              >
                {unresolvedCount ?? '…'}
              </span>
            )}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="alerts-panel" aria-labelledby={`tab-${view}`} className="tab-panel">
        {view === 'unresolved' ? (
          <Unresolved open={open} acknowledged={acknowledged} channelNames={channelNames} />
        ) : (
          <>
            {resolved.error ? <ErrorMessage error={resolved.error} /> : null}
            {resolved.isPending ? <p className="placeholder">Loading alerts…</p> : null}
            {resolved.data && resolved.data.length === 0 ? <p className="empty card">No resolved alerts yet.</p> : null}
            {resolved.data && resolved.data.length > 0 ? (
              <AlertList label="Resolved alerts" alerts={resolved.data} channelNames={channelNames} />
            ) : null}
          </>
        )}
      </div>
    </section>
  );
}

function Unresolved({
  open,
  acknowledged,
  channelNames,
}: {
  open: UseQueryResult<Alert[]>;
  acknowledged: UseQueryResult<Alert[]>;
  channelNames: Map<string, string>;
}) {
  const error = open.error ?? acknowledged.error;
  if (error) return <ErrorMessage error={error} />;
  if (!open.data || !acknowledged.data) return <p className="placeholder">Loading alerts…</p>;
  const o = open.data;
  const a = acknowledged.data;
  if (o.length === 0 && a.length === 0) {
    return (
      <p className="empty card" data-testid="alerts-summary">
        No open or acknowledged alerts: every backup and restore is fine.
      </p>
    );
  }
  const failing = [...new Set(a.map((x) => x.database_name))];
  return (
    <>
      <p className={`alerts-summary card${o.length > 0 ? ' summary-bad' : ' summary-warn'}`} data-testid="alerts-summary" role="status">
        {o.length > 0 ? `${plural(o.length, 'open alert')} to look at` : 'No new alerts'}
        {a.length > 0
          ? `${o.length > 0 ? ', and' : ', but'} ${plural(a.length, 'acknowledged alert')} ${a.length === 1 ? 'is' : 'are'} not resolved: ${new Intl.ListFormat('en', { type: 'conjunction' }).format(failing)} ${failing.length === 1 ? 'is' : 'are'} still failing.`
          : '.'}
      </p>
      <section aria-labelledby="open-h" className="alerts-section">
        <h2 id="open-h">
          Open <span className="heading-count">({o.length})</span>
        </h2>
        {o.length === 0 ? (
          <p className="muted">Nothing new since the last acknowledgement.</p>
        ) : (
          <AlertList label="Open alerts" alerts={o} channelNames={channelNames} />
        )}
      </section>
      {a.length > 0 ? (
        <section aria-labelledby="ack-h" className="alerts-section">
          <h2 id="ack-h">
            Acknowledged, still failing <span className="heading-count">({a.length})</span>
          </h2>
          <p className="muted">Acknowledging stops the reminders; the alert resolves by itself once what failed succeeds.</p>
          <AlertList label="Acknowledged alerts" alerts={a} channelNames={channelNames} />
        </section>
      ) : null}
    </>
  );
}

function AlertList({ label, alerts, channelNames }: { label: string; alerts: Alert[]; channelNames: Map<string, string> }) {
  return (
    <ul className="alerts" aria-label={label}>
      {alerts.map((a) => (
        <AlertCard key={a.id} alert={a} channelNames={channelNames} />
      ))}
    </ul>
  );
}

/** What makes an alert resolve, in words. */
function resolvesWhen(a: Alert): string {
  if (a.kind === 'restore_failed') return `it resolves when a restore into ${a.database_name} completes.`;
  if (a.kind.startsWith('backup_') || a.kind === 'missed_schedule' || a.kind === 'storage_failure')
    return `it resolves when a backup of ${a.database_name} completes.`;
  return 'it resolves when what failed succeeds.';
}

function AlertCard({ alert: a, channelNames }: { alert: Alert; channelNames: Map<string, string> }) {
  const qc = useQueryClient();
  const noAck = useAccess().deny('acknowledge');
  const ack = useMutation({
    mutationFn: () => api.acknowledgeAlert(a.id),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['alerts'] });
    },
  });
  const groups = groupDeliveries(a.deliveries);
  const titleId = `alert-${a.id}-title`;
  return (
    <li className={`alert-card card state-${a.state}`} data-testid="alert" data-alert-id={a.id} data-state={a.state} aria-labelledby={titleId}>
      <div className="alert-head">
        <h2 id={titleId} className="alert-title">
          <span className="alert-kind">{alertKindLabel(a.kind)}</span>{' '}
          <span className="muted">on</span> <DatabaseLink id={a.database_id} name={a.database_name} />
        </h2>
        <span className={`badge badge-alert-${a.state}`}>{a.state === 'open' ? 'Open' : a.state === 'acknowledged' ? 'Acknowledged' : 'Resolved'}</span>
        {a.count > 1 ? (
          <span className="badge badge-repeat" title="How many times it happened while open">
            ×{a.count}
          </span>
        ) : null}
        {a.state === 'open' ? (
          <button
            type="button"
            className="ack-button"
            onClick={() => ack.mutate()}
            disabled={ack.isPending || ack.isSuccess || !!noAck}
            title={noAck ?? undefined}
            aria-describedby={noAck ? `${titleId}-denied` : undefined}
          >
            {ack.isPending ? 'Acknowledging…' : ack.isSuccess ? 'Acknowledged' : 'Acknowledge'}
          </button>
        ) : null}
      </div>
      {a.state === 'open' ? <Denied id={`${titleId}-denied`} reason={noAck} /> : null}
      {a.state === 'acknowledged' ? (
        <p className="ack-line" data-testid="acknowledged-by">
          Acknowledged{a.acknowledged_by ? ` by ${a.acknowledged_by}` : ''}
          {a.acknowledged_at ? (
            <>
              {' '}
              on <Time iso={a.acknowledged_at} />
            </>
          ) : null}
          . Not resolved yet: {resolvesWhen(a)}
        </p>
      ) : null}
      <p className="alert-message">{a.message}</p>
      {a.detail ? <pre className="stderr" tabIndex={0} role="region" aria-label="Alert detail">{a.detail}</pre> : null}
      <dl className="mini-facts alert-facts">
        <div>
          <dt>Happened</dt>
          <dd>{a.count === 1 ? 'once' : plural(a.count, 'time')}</dd>
        </div>
        <div>
          <dt>Raised</dt>
          <dd>
            <Time iso={a.raised_at} />
          </dd>
        </div>
        <div>
          <dt>Last seen</dt>
          <dd>
            <Time iso={a.last_seen_at} />
          </dd>
        </div>
        {a.acknowledged_at && a.state !== 'acknowledged' ? (
          <div>
            <dt>Acknowledged</dt>
            <dd>
              <Time iso={a.acknowledged_at} />
              {a.acknowledged_by ? <span className="sub">by {a.acknowledged_by}</span> : null}
            </dd>
          </div>
        ) : null}
        {a.state === 'resolved' || a.resolved_at ? (
          <div>
            <dt>Resolved</dt>
            <dd>
              <Time iso={a.resolved_at} />
              {a.resolved_by ? <span className="sub">by {a.resolved_by}</span> : null}
            </dd>
          </div>
        ) : null}
      </dl>
      {ack.error ? <ErrorMessage error={ack.error} /> : null}
      <h3 className="deliveries-title">Notifications</h3>
      {groups.length === 0 ? (
        <p className="muted">Not sent anywhere{channelNames.size === 0 ? ': no channel is set up — ' : '.'}
          {channelNames.size === 0 ? <Link to="/channels">add one</Link> : null}
        </p>
      ) : (
        <table className="table responsive deliveries" data-testid="deliveries">
          <thead>
            <tr>
              <th scope="col">Channel</th>
              <th scope="col">Notice</th>
              <th scope="col">Outcome</th>
              <th scope="col" className="num">
                Attempts
              </th>
              <th scope="col">Last attempt</th>
            </tr>
          </thead>
          <tbody>
            {groups.map((g) => (
              <tr key={`${g.channelId}-${g.notice}`} data-testid="delivery" data-outcome={g.outcome}>
                <th scope="row" data-label="Channel">
                  {channelNames.get(g.channelId) ?? <span title={`Channel id ${g.channelId}`}>A removed channel</span>}
                </th>
                <td data-label="Notice">{g.notice}</td>
                <td data-label="Outcome">
                  <span className={`badge badge-${g.outcome === 'delivered' ? 'completed' : 'failed'}`}>
                    {g.outcome === 'delivered' ? 'Delivered' : 'Failed'}
                    {g.statusCode !== null ? ` (HTTP ${g.statusCode})` : ''}
                  </span>
                  {g.errors.length > 0 ? (
                    <ul className="delivery-errors">
                      {g.errors.map((e, i) => (
                        <li key={i}>{redactUrls(e)}</li>
                      ))}
                    </ul>
                  ) : null}
                </td>
                <td data-label="Attempts" className="num">
                  {g.attempts}
                </td>
                <td data-label="Last attempt">
                  <Time iso={g.lastAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </li>
  );
}
