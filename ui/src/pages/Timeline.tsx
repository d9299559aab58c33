import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useInfiniteQuery, useQuery, useQueryClient, type InfiniteData } from '@tanstack/react-query';
import { EVENT_TYPES, api, notifyUnauthorized, type EventPage, type LedgerEvent } from '../api';
import { getToken } from '../auth';
import { streamEvents } from '../sse';
import { ErrorMessage } from '../components/ErrorMessage';
import { LedgerBadge } from '../components/LedgerBadge';
import { Time } from '../components/Time';
import { describeEvent, eventLinks, eventTone } from '../eventText';
import { formatTime, formatUtc, localInputToMs, zoneName } from '../format';
import { VersionLink } from '../components/Refs';
import { Link, navigate, useLocation } from '../router';

const PAGE = 50;
const LIVE_MS = 2_000;

interface Filters {
  database_id: string;
  type: string;
  from: string;
  to: string;
}

/** The audit view: every ledger event, newest first, with live updates and filters. */
export function Timeline() {
  const { params } = useLocation();
  const filters: Filters = {
    database_id: params.get('database_id') ?? '',
    type: params.get('type') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
  };
  const openPosition = params.get('event');

  function setParam(name: string, value: string | null) {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    const q = next.toString();
    navigate(`/timeline${q ? `?${q}` : ''}`, { replace: true });
  }

  const dbs = useQuery({ queryKey: ['databases', 'all'], queryFn: () => api.listDatabases(true) });
  const names = useMemo(() => new Map((dbs.data ?? []).map((d) => [d.id, d.name])), [dbs.data]);

  const { feed, live, fresh, mode } = useEventFeed(filters.database_id, filters.type);
  const loaded = useMemo(() => feed.data?.pages.flatMap((p) => p.items) ?? [], [feed.data]);

  const fromMs = localInputToMs(filters.from);
  const toMs = localInputToMs(filters.to);
  const shown = loaded.filter((e) => {
    const t = Date.parse(e.at);
    return (fromMs === null || t >= fromMs) && (toMs === null || t <= toMs);
  });
  const oldest = loaded[loaded.length - 1];
  const reachedFrom = fromMs !== null && oldest !== undefined && Date.parse(oldest.at) < fromMs;
  const canLoadOlder = feed.hasNextPage && !reachedFrom;
  const zone = zoneName();

  return (
    <section className="page">
      <div className="page-head">
        <h1>Timeline</h1>
        <LiveIndicator mode={mode} pollOk={!live.error} at={live.dataUpdatedAt} />
        <LedgerBadge />
      </div>

      <form className="filters card" aria-label="Filter events" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="f-db">Database</label>
          <select id="f-db" value={filters.database_id} onChange={(e) => setParam('database_id', e.target.value)}>
            <option value="">All databases</option>
            {(dbs.data ?? []).map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
                {d.status === 'removed' ? ' (removed)' : ''}
              </option>
            ))}
            {filters.database_id && !names.has(filters.database_id) && (
              <option value={filters.database_id}>{filters.database_id}</option>
            )}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-type">Event type</label>
          <select id="f-type" value={filters.type} onChange={(e) => setParam('type', e.target.value)}>
            <option value="">All types</option>
            {EVENT_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
            {filters.type && !(EVENT_TYPES as readonly string[]).includes(filters.type) && (
              <option value={filters.type}>{filters.type}</option>
            )}
          </select>
        </div>
        <div className="field field-date">
          <label htmlFor="f-from">From ({zone})</label>
          <input id="f-from" type="datetime-local" value={filters.from} onChange={(e) => setParam('from', e.target.value)} />
        </div>
        <div className="field field-date">
          <label htmlFor="f-to">To ({zone})</label>
          <input id="f-to" type="datetime-local" value={filters.to} onChange={(e) => setParam('to', e.target.value)} />
        </div>
        <div className="field filter-clear">
          <button type="button" onClick={() => navigate('/timeline', { replace: true })} disabled={!filters.database_id && !filters.type && !filters.from && !filters.to}>
            Clear filters
          </button>
        </div>
      </form>

      {feed.error ? <ErrorMessage error={feed.error} /> : null}
      {feed.isPending ? <p className="placeholder">Loading events…</p> : null}
      {feed.isSuccess && shown.length === 0 ? (
        <p className="empty card">
          {loaded.length === 0 ? 'No events match these filters.' : 'No loaded events fall in this time range.'}
          {canLoadOlder ? ' Older events may match: load more below.' : ''}
        </p>
      ) : null}

      {shown.length > 0 && (
        <ol className="events" aria-label="Events, newest first">
          {shown.map((e) => (
            <EventRow
              key={e.position}
              event={e}
              dbName={e.database_id ? (names.get(e.database_id) ?? null) : null}
              open={openPosition === String(e.position)}
              isNew={fresh.has(e.position)}
              onToggle={() => setParam('event', openPosition === String(e.position) ? null : String(e.position))}
            />
          ))}
        </ol>
      )}

      <div className="load-more">
        {canLoadOlder ? (
          <button type="button" onClick={() => void feed.fetchNextPage()} disabled={feed.isFetchingNextPage}>
            {feed.isFetchingNextPage ? 'Loading…' : 'Load older events'}
          </button>
        ) : feed.isSuccess && loaded.length > 0 ? (
          <p className="muted">{reachedFrom ? 'Reached the start of the time range.' : 'That is the first event.'}</p>
        ) : null}
      </div>
    </section>
  );
}

/**
 * History pages come from `order=desc&before=`. New events come from the live stream
 * (`GET /events/stream`, Server-Sent Events read with `fetch` so the token stays in a header), and are
 * put at the top of the first cached page. If the stream keeps failing, polling `after=<highest
 * position>` every 2 s takes over.
 */
function useEventFeed(databaseId: string, type: string) {
  const qc = useQueryClient();
  const key = useMemo(() => ['events', databaseId, type] as const, [databaseId, type]);
  const feed = useInfiniteQuery({
    queryKey: key,
    queryFn: ({ pageParam }) =>
      api.events({
        order: 'desc',
        limit: PAGE,
        before: pageParam ?? undefined,
        database_id: databaseId || undefined,
        type: type || undefined,
      }),
    initialPageParam: null as number | null,
    getNextPageParam: (last: EventPage) => {
      if (last.next === null || last.items.length === 0) return undefined;
      return Math.min(...last.items.map((e) => e.position));
    },
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });

  // Highest position shown for this filter: where polling resumes.
  const filterKey = `${databaseId}\n${type}`;
  const highest = useRef({ key: filterKey, pos: 0 });
  if (highest.current.key !== filterKey) highest.current = { key: filterKey, pos: 0 };
  const top = feed.data?.pages[0]?.items[0]?.position ?? 0;
  if (top > highest.current.pos) highest.current.pos = top;

  const [fresh, setFresh] = useState<Set<number>>(new Set());
  const [mode, setMode] = useState<LiveMode>('connecting');

  const addEvents = useCallback(
    (added: LedgerEvent[]) => {
      if (added.length === 0) return;
      highest.current.pos = Math.max(highest.current.pos, ...added.map((e) => e.position));
      let newOnes: number[] = [];
      qc.setQueryData<InfiniteData<EventPage, number | null>>(key, (old) => {
        if (!old) return old;
        const seen = new Set(old.pages.flatMap((p) => p.items.map((e) => e.position)));
        const newest = added.filter((e) => !seen.has(e.position)).sort((a, b) => b.position - a.position);
        newOnes = newest.map((e) => e.position);
        if (newest.length === 0) return old;
        const [first, ...rest] = old.pages;
        return { ...old, pages: [{ ...first!, items: [...newest, ...(first?.items ?? [])] }, ...rest] };
      });
      if (newOnes.length > 0) setFresh(new Set(newOnes));
    },
    [qc, key],
  );

  const poll = useCallback(async () => {
    const added: LedgerEvent[] = [];
    for (;;) {
      const page = await api.events({
        order: 'asc',
        after: highest.current.pos,
        limit: 1000,
        database_id: databaseId || undefined,
        type: type || undefined,
      });
      added.push(...page.items);
      if (page.items.length === 0) break;
      highest.current.pos = Math.max(highest.current.pos, ...page.items.map((e) => e.position));
      if (page.items.length < 1000) break;
    }
    addEvents(added);
    return added.length;
  }, [addEvents, databaseId, type]);

  // Fallback: polling, only while the stream is down for good.
  const live = useQuery({
    queryKey: [...key, 'live'],
    enabled: feed.isSuccess && mode === 'polling',
    refetchInterval: LIVE_MS,
    refetchIntervalInBackground: false,
    gcTime: 0,
    queryFn: poll,
  });

  const ready = feed.isSuccess;
  useEffect(() => {
    if (!ready) return;
    const ctrl = new AbortController();
    // Without a type filter the stream can resume right after the newest event shown; with one, the
    // stream (which filters by database only) starts at the head and one catch-up poll fills the gap.
    const initial = !type && highest.current.pos > 0 ? String(highest.current.pos) : null;
    let streamId: string | null = initial;
    let batch: LedgerEvent[] = [];
    let flush: ReturnType<typeof setTimeout> | undefined;
    setMode('connecting');
    void streamEvents({
      url: api.eventStreamUrl(databaseId || undefined),
      token: getToken(),
      lastEventId: initial,
      signal: ctrl.signal,
      onUnauthorized: notifyUnauthorized,
      onState: (st) => {
        if (ctrl.signal.aborted) return;
        if (st === 'open') {
          setMode('stream');
          if (streamId === null) void poll().catch(() => {});
        } else if (st === 'failed') {
          setMode('polling');
        } else {
          setMode(st === 'connecting' ? 'connecting' : 'reconnecting');
        }
      },
      onMessage: (m) => {
        if (m.id !== null) streamId = m.id;
        let e: LedgerEvent;
        try {
          e = JSON.parse(m.data) as LedgerEvent;
        } catch {
          return;
        }
        if (typeof e.position !== 'number') return;
        if (databaseId && e.database_id !== databaseId) return;
        if (type && e.type !== type) return;
        batch.push(e);
        if (flush === undefined) {
          flush = setTimeout(() => {
            flush = undefined;
            const b = batch;
            batch = [];
            if (!ctrl.signal.aborted) addEvents(b);
          }, 30);
        }
      },
    });
    return () => {
      ctrl.abort();
      clearTimeout(flush);
    };
    // `poll` and `addEvents` change with the filter, as does this effect.
  }, [ready, databaseId, type]);

  return { feed, live, fresh, mode };
}

type LiveMode = 'connecting' | 'stream' | 'reconnecting' | 'polling';

function LiveIndicator({ mode, pollOk, at }: { mode: LiveMode; pollOk: boolean; at: number }) {
  const state = mode === 'stream' ? 'ok' : mode === 'polling' ? (pollOk ? 'ok' : 'bad') : 'wait';
  const text =
    mode === 'stream'
      ? 'Live'
      : mode === 'polling'
        ? pollOk
          ? 'Live (polling every 2 s)'
          : 'Live updates paused (server unreachable)'
        : mode === 'reconnecting'
          ? 'Reconnecting…'
          : 'Connecting…';
  return (
    <p className={`live live-${state}`} role="status" data-testid="live-indicator" data-mode={mode}>
      <span className="dot" aria-hidden="true" />
      {text}
      {mode === 'polling' && pollOk && at > 0 ? <span className="sub"> checked {formatTime(new Date(at).toISOString())}</span> : null}
    </p>
  );
}

function EventRow({
  event: e,
  dbName,
  open,
  isNew,
  onToggle,
}: {
  event: LedgerEvent;
  dbName: string | null;
  open: boolean;
  isNew: boolean;
  onToggle: () => void;
}) {
  const detailId = `event-${e.position}-detail`;
  return (
    <li className={`event tone-${eventTone(e.type)}${isNew ? ' is-new' : ''}${open ? ' is-open' : ''}`} data-testid="event" data-type={e.type}>
      <button type="button" className="event-summary" aria-expanded={open} aria-controls={detailId} onClick={onToggle}>
        <span className="event-when">
          <Time iso={e.at} />
        </span>
        <span className="event-what">
          <span className="event-type">{e.type}</span>
          <span className="event-desc">{describeEvent(e)}</span>
        </span>
        <span className="event-who">
          {dbName ?? (e.database_id ? <span title={`Database id ${e.database_id}`}>a database no longer listed</span> : '—')}
          <span className="sub" title={e.actor}>by {e.actor_name || e.actor}</span>
        </span>
      </button>
      {open && <EventDetail id={detailId} event={e} dbName={dbName} />}
    </li>
  );
}

function EventDetail({ id, event: e, dbName }: { id: string; event: LedgerEvent; dbName: string | null }) {
  const links = eventLinks(e);
  return (
    <div className="event-detail" id={id}>
      <div className="event-links">
        {links.databaseId && (
          <Link to={`/databases/${links.databaseId}`} className="button">
            Database {dbName ?? ''}
          </Link>
        )}
        {links.backupId && (
          <span className="event-version">
            Version: <VersionLink id={links.backupId} />
          </span>
        )}
        {links.alertId && (
          <Link to="/alerts" className="button">
            Alerts
          </Link>
        )}
        {links.channelId && (
          <Link to="/channels" className="button">
            Channels
          </Link>
        )}
        {links.restoreId && (
          <Link to={`/restores/${links.restoreId}`} className="button">
            Restore
          </Link>
        )}
      </div>
      <dl className="meta">
        <dt>Position</dt>
        <dd>{e.position}</dd>
        <dt>Type</dt>
        <dd>{e.type}</dd>
        <dt>At</dt>
        <dd>
          <Time iso={e.at} /> <span className="muted">({formatUtc(e.at)})</span>
        </dd>
        <dt>Actor</dt>
        <dd>
          {e.actor_name && e.actor_name !== e.actor ? (
            <>
              {e.actor_name} <code className="break">{e.actor}</code>
            </>
          ) : (
            e.actor
          )}
        </dd>
        <dt>Aggregate</dt>
        <dd>
          {e.aggregate_type} <code className="break">{e.aggregate_id}</code> #{e.sequence}
        </dd>
        <dt>Database</dt>
        <dd>{e.database_id ? <code className="break">{e.database_id}</code> : '—'}</dd>
        <dt>Correlation</dt>
        <dd>{e.correlation_id ? <code className="break">{e.correlation_id}</code> : '—'}</dd>
        <dt>Node</dt>
        <dd>{e.node ?? '—'}</dd>
      </dl>
      {/* h2: the page has no other level between its h1 and this. */}
      <h2 className="payload-title">Payload</h2>
      <pre className="payload" tabIndex={0} role="region" aria-label="Event payload">{JSON.stringify(e.payload, null, 2)}</pre>
    </div>
  );
}
