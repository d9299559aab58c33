import { useMemo, useRef, type KeyboardEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Alert, type AlertState, type Channel } from '../api';
import { alertKindLabel, groupDeliveries, redactUrls, useOpenAlerts } from '../alerts';
import { ErrorMessage } from '../components/ErrorMessage';
import { Time } from '../components/Time';
import { shortId } from '../format';
import { Link, navigate, useLocation } from '../router';

const TABS: { state: AlertState; label: string; empty: string }[] = [
  { state: 'open', label: 'Open', empty: 'No open alerts: every backup and restore is fine.' },
  { state: 'acknowledged', label: 'Acknowledged', empty: 'No acknowledged alerts.' },
  { state: 'resolved', label: 'Resolved', empty: 'No resolved alerts yet.' },
];

/** Alerts by state, with what was delivered where; open ones can be acknowledged. */
export function Alerts() {
  const { params } = useLocation();
  const raw = params.get('state');
  const state: AlertState = raw === 'acknowledged' || raw === 'resolved' ? raw : 'open';
  const open = useOpenAlerts();
  const list = useQuery({
    queryKey: ['alerts', state],
    queryFn: () => api.listAlerts(state),
    refetchInterval: 5_000,
    enabled: state !== 'open',
  });
  const current = state === 'open' ? open : list;
  const channels = useQuery({ queryKey: ['channels'], queryFn: api.listChannels, staleTime: 30_000 });
  const channelNames = useMemo(() => new Map((channels.data ?? []).map((c: Channel) => [c.id, c.name])), [channels.data]);

  const tabRefs = useRef<(HTMLButtonElement | null)[]>([]);
  const select = (s: AlertState) => navigate(s === 'open' ? '/alerts' : `/alerts?state=${s}`, { replace: true });
  function onKey(e: KeyboardEvent<HTMLButtonElement>, i: number) {
    const last = TABS.length - 1;
    const next = e.key === 'ArrowRight' ? (i === last ? 0 : i + 1) : e.key === 'ArrowLeft' ? (i === 0 ? last : i - 1) : e.key === 'Home' ? 0 : e.key === 'End' ? last : null;
    if (next === null) return;
    e.preventDefault();
    select(TABS[next]!.state);
    tabRefs.current[next]?.focus();
  }

  const tab = TABS.find((t) => t.state === state)!;
  return (
    <section className="page">
      <div className="page-head">
        <h1>Alerts</h1>
        <Link to="/channels" className="button">
          Channels
        </Link>
      </div>
      <div role="tablist" aria-label="Alert state" className="tabs">
        {TABS.map((t, i) => (
          <button
            key={t.state}
            ref={(el) => {
              tabRefs.current[i] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${t.state}`}
            aria-selected={t.state === state}
            aria-controls="alerts-panel"
            tabIndex={t.state === state ? 0 : -1}
            className="tab"
            onClick={() => select(t.state)}
            onKeyDown={(e) => onKey(e, i)}
          >
            {t.label}
            {t.state === 'open' && (
              <span className={`count${(open.data?.length ?? 0) > 0 ? ' count-bad' : ''}`} data-testid="open-tab-count">
                {open.data ? open.data.length : '…'}
              </span>
            )}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="alerts-panel" aria-labelledby={`tab-${state}`} className="tab-panel">
        {current.error ? <ErrorMessage error={current.error} /> : null}
        {current.isPending ? <p className="placeholder">Loading alerts…</p> : null}
        {current.data && current.data.length === 0 ? <p className="empty card">{tab.empty}</p> : null}
        {current.data && current.data.length > 0 ? (
          <ul className="alerts" aria-label={`${tab.label} alerts`}>
            {current.data.map((a) => (
              <AlertCard key={a.id} alert={a} channelNames={channelNames} />
            ))}
          </ul>
        ) : null}
      </div>
    </section>
  );
}

function AlertCard({ alert: a, channelNames }: { alert: Alert; channelNames: Map<string, string> }) {
  const qc = useQueryClient();
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
          <span className="muted">on</span> <Link to={`/databases/${a.database_id}`}>{a.database_name || shortId(a.database_id)}</Link>
        </h2>
        <span className={`badge badge-alert-${a.state}`}>{a.state === 'open' ? 'Open' : a.state === 'acknowledged' ? 'Acknowledged' : 'Resolved'}</span>
        {a.count > 1 ? (
          <span className="badge badge-repeat" title="How many times it happened while open">
            ×{a.count}
          </span>
        ) : null}
        {a.state === 'open' ? (
          <button type="button" className="ack-button" onClick={() => ack.mutate()} disabled={ack.isPending || ack.isSuccess}>
            {ack.isPending ? 'Acknowledging…' : ack.isSuccess ? 'Acknowledged' : 'Acknowledge'}
          </button>
        ) : null}
      </div>
      <p className="alert-message">{a.message}</p>
      {a.detail ? <pre className="stderr">{a.detail}</pre> : null}
      <dl className="mini-facts alert-facts">
        <div>
          <dt>Happened</dt>
          <dd>{a.count === 1 ? 'once' : `${a.count} times`}</dd>
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
        {a.acknowledged_at ? (
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
                  {channelNames.get(g.channelId) ?? <span title={g.channelId}>{shortId(g.channelId)} (removed)</span>}
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
