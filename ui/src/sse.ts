// Server-Sent Events over `fetch`: EventSource cannot send an Authorization header, and the token must
// never go into a URL. `SseParser` turns text chunks (split anywhere, even mid-line) into events;
// `streamEvents` keeps one stream open, reconnecting with `Last-Event-ID` = the highest id seen, and
// gives up (so the caller can fall back to polling) after a few failures in a row.

export interface SseMessage {
  /** The `id:` field in force when the event was dispatched (the last one seen), or null. */
  id: string | null;
  /** `event:` field, default "message". */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
}

/** Incremental parser for the `text/event-stream` format (WHATWG HTML § 9.2.6). */
export class SseParser {
  private buffer = '';
  /** The previous chunk ended in "\r": a "\n" at the start of the next one belongs to it. */
  private pendingCr = false;
  private data: string[] = [];
  private eventType = '';
  /** `id:` seen so far; becomes the last event id only when an event is dispatched (blank line). */
  private idBuffer: string | null = null;
  private lastId: string | null = null;
  /** Reconnection delay the server asked for with `retry:`, if any. */
  retryMs: number | null = null;

  /** Feeds one decoded chunk; returns the events it completed. */
  push(chunk: string): SseMessage[] {
    let text = chunk;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (text.startsWith('\n')) text = text.slice(1);
    }
    this.buffer += text;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      const line = this.buffer.slice(start, i);
      if (c === '\r') {
        if (i + 1 < this.buffer.length) {
          if (this.buffer[i + 1] === '\n') i++;
        } else {
          this.pendingCr = true;
        }
      }
      start = i + 1;
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** The id of the last complete event: what a reconnect should send as `Last-Event-ID`. */
  get lastEventId(): string | null {
    return this.lastId;
  }

  private line(line: string): SseMessage | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null; // comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return null;
  }

  private dispatch(): SseMessage | null {
    this.lastId = this.idBuffer;
    const data = this.data;
    const event = this.eventType || 'message';
    this.data = [];
    this.eventType = '';
    if (data.length === 0) return null;
    return { id: this.lastId, event, data: data.join('\n') };
  }
}

export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'failed';

export interface StreamOptions {
  /** Full URL path, e.g. `/api/v1/events/stream?database_id=…` (never with the token). */
  url: string;
  token: string | null;
  /** Resume point for the first connection (sent as `Last-Event-ID`). */
  lastEventId?: string | null;
  onMessage: (m: SseMessage) => void;
  onState?: (s: StreamState) => void;
  /** Called on a 401: the token is no longer accepted. */
  onUnauthorized?: () => void;
  signal: AbortSignal;
}

/** Tunables; tests shorten them. */
export const streamSettings = {
  /** First reconnection delay; doubles per failure in a row. */
  retryMs: 1_000,
  /** Failures in a row before giving up. */
  maxFailures: 3,
  /** No bytes (not even the server's 15 s keep-alive comment) for this long counts as a failure. */
  idleMs: 45_000,
};

class StreamError extends Error {}

/**
 * Keeps an event stream open until `signal` aborts. Resolves when aborted, or with `'failed'` after
 * `maxFailures` failed connections in a row (a connection that delivered any bytes resets the count).
 */
export async function streamEvents(opts: StreamOptions): Promise<'aborted' | 'failed' | 'unauthorized'> {
  let lastId = opts.lastEventId ?? null;
  let failures = 0;
  let serverRetry: number | null = null;
  opts.onState?.('connecting');
  while (!opts.signal.aborted) {
    let gotBytes = false;
    const parser = new SseParser();
    const attempt = new AbortController();
    const abortAttempt = () => attempt.abort();
    opts.signal.addEventListener('abort', abortAttempt);
    let idle: ReturnType<typeof setTimeout> | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => attempt.abort(), streamSettings.idleMs);
    };
    try {
      const headers: Record<string, string> = { Accept: 'text/event-stream', 'Cache-Control': 'no-cache' };
      if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
      if (lastId !== null) headers['Last-Event-ID'] = lastId;
      armIdle();
      const res = await fetch(opts.url, { headers, signal: attempt.signal, cache: 'no-store' });
      if (res.status === 401) {
        opts.onUnauthorized?.();
        return 'unauthorized';
      }
      const type = res.headers.get('Content-Type') ?? '';
      if (!res.ok || !type.startsWith('text/event-stream') || !res.body) {
        await res.body?.cancel().catch(() => {});
        throw new StreamError(`HTTP ${res.status} ${type}`);
      }
      opts.onState?.('open');
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        armIdle();
        if (value.byteLength > 0 && !gotBytes) {
          gotBytes = true;
          failures = 0;
        }
        for (const m of parser.push(decoder.decode(value, { stream: true }))) {
          if (m.id !== null) lastId = higher(lastId, m.id);
          opts.onMessage(m);
        }
      }
      // The server (or a proxy) ended the stream: reconnect.
    } catch {
      // Network error, idle timeout or a non-stream answer: reconnect below, unless aborted.
    } finally {
      clearTimeout(idle);
      opts.signal.removeEventListener('abort', abortAttempt);
    }
    // Only an id of a complete event counts: a half-received event must be sent again.
    if (parser.lastEventId !== null) lastId = higher(lastId, parser.lastEventId);
    if (parser.retryMs !== null) serverRetry = parser.retryMs;
    if (opts.signal.aborted) break;
    if (!gotBytes) failures++;
    if (failures >= streamSettings.maxFailures) {
      opts.onState?.('failed');
      return 'failed';
    }
    opts.onState?.('reconnecting');
    const delay = (serverRetry ?? streamSettings.retryMs) * 2 ** Math.max(0, failures - 1);
    await sleep(delay, opts.signal);
  }
  return 'aborted';
}

/** The higher of two ids when both are numbers (ledger positions), else the newer one. */
function higher(a: string | null, b: string): string {
  if (a === null) return b;
  const x = Number(a);
  const y = Number(b);
  return Number.isFinite(x) && Number.isFinite(y) && a.trim() !== '' && b.trim() !== '' ? (y >= x ? b : a) : b;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
