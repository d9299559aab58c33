import { afterEach, describe, expect, it, vi } from 'vitest';
import { SseParser, streamEvents, streamSettings, type SseMessage, type StreamState } from './sse';

describe('SseParser', () => {
  it('parses events whatever the chunk boundaries, including mid-line and mid-field splits', () => {
    const text =
      ': keep-alive\n\nid: 41\ndata: {"position":41,"type":"BackupStarted"}\n\nid: 42\ndata: {"position":42,\ndata: "type":"BackupCompleted"}\n\n';
    const whole = new SseParser().push(text);
    expect(whole).toEqual([
      { id: '41', event: 'message', data: '{"position":41,"type":"BackupStarted"}' },
      { id: '42', event: 'message', data: '{"position":42,\n"type":"BackupCompleted"}' },
    ]);
    // Every possible split into two chunks, and one character at a time, give the same events.
    for (let i = 0; i <= text.length; i++) {
      const p = new SseParser();
      expect([...p.push(text.slice(0, i)), ...p.push(text.slice(i))]).toEqual(whole);
    }
    const p = new SseParser();
    expect([...text].flatMap((c) => p.push(c))).toEqual(whole);
    expect(p.lastEventId).toBe('42');
  });

  it('handles CRLF and lone CR line endings, even with "\\r" and "\\n" in different chunks', () => {
    const p = new SseParser();
    const out: SseMessage[] = [];
    out.push(...p.push('id: 7\r'));
    out.push(...p.push('\ndata: a\r'));
    out.push(...p.push('\n\r'));
    out.push(...p.push('\nevent: ping\rdata:b\r\r'));
    expect(out).toEqual([
      { id: '7', event: 'message', data: 'a' },
      { id: '7', event: 'ping', data: 'b' },
    ]);
  });

  it('ignores comments and unknown fields, keeps an event without data from dispatching, reads retry', () => {
    const p = new SseParser();
    expect(p.push(':comment\nfoo: bar\nid: 3\n\nretry: 2500\ndata\n\n')).toEqual([{ id: '3', event: 'message', data: '' }]);
    expect(p.retryMs).toBe(2500);
    // A line that has not ended yet is not an event.
    expect(p.push('data: partial')).toEqual([]);
    expect(p.push('\n\n')).toEqual([{ id: '3', event: 'message', data: 'partial' }]);
  });
});

/** A streaming `text/event-stream` response made of these byte chunks. */
function sseResponse(chunks: (string | Uint8Array)[]): Response {
  const enc = new TextEncoder();
  return new Response(
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const chunk of chunks) c.enqueue(typeof chunk === 'string' ? enc.encode(chunk) : chunk);
        c.close();
      },
    }),
    { status: 200, headers: { 'Content-Type': 'text/event-stream' } },
  );
}

describe('streamEvents', () => {
  const saved = { ...streamSettings };
  afterEach(() => {
    Object.assign(streamSettings, saved);
    vi.unstubAllGlobals();
  });

  it('sends the token as a header, reconnects with Last-Event-ID = highest id seen, and gives up after repeated failures', async () => {
    streamSettings.retryMs = 1;
    const bytes = new TextEncoder().encode('id: 6\ndata: {"position":6,"actor":"Zoë"}\n\n');
    const split = bytes.indexOf(0xc3) + 1; // inside the two bytes of "ë"
    const calls: { url: string; headers: Record<string, string> }[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit) => {
        calls.push({ url, headers: init.headers as Record<string, string> });
        if (calls.length === 1) return sseResponse(['id: 5\ndata: {"position"', ':5}\n', '\n', bytes.slice(0, split)]);
        if (calls.length === 2) return sseResponse([bytes.slice(split), ': keep-alive\n\n']);
        return new Response('busy', { status: 503 });
      }),
    );
    const got: SseMessage[] = [];
    const states: StreamState[] = [];
    const ctrl = new AbortController();
    const result = await streamEvents({
      url: '/api/v1/events/stream',
      token: 'tok',
      lastEventId: '4',
      signal: ctrl.signal,
      onMessage: (m) => got.push(m),
      onState: (s) => states.push(s),
    });
    expect(result).toBe('failed');
    // The event split across two connections is not delivered half-made: the second connection
    // starts a new parser, so only complete events count (id 6 is resent by the server after 5).
    expect(got.map((m) => m.id)).toEqual(['5']);
    expect(JSON.parse(got[0]!.data)).toEqual({ position: 5 });
    expect(calls.every((c) => c.url === '/api/v1/events/stream' && !c.url.includes('tok'))).toBe(true);
    expect(calls.every((c) => c.headers.Authorization === 'Bearer tok')).toBe(true);
    expect(calls.map((c) => c.headers['Last-Event-ID'])).toEqual(['4', '5', '5', '5', '5']);
    expect(states[0]).toBe('connecting');
    expect(states).toContain('open');
    expect(states).toContain('reconnecting');
    expect(states.at(-1)).toBe('failed');
  });

  it('decodes UTF-8 split across chunks of one connection and stops when aborted', async () => {
    const bytes = new TextEncoder().encode('id: 9\ndata: {"actor":"Zoë"}\n\n');
    const split = bytes.indexOf(0xc3) + 1;
    const ctrl = new AbortController();
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => sseResponse([bytes.slice(0, split), bytes.slice(split)])),
    );
    const got: SseMessage[] = [];
    const result = await streamEvents({
      url: '/s',
      token: null,
      signal: ctrl.signal,
      onMessage: (m) => {
        got.push(m);
        ctrl.abort();
      },
    });
    expect(result).toBe('aborted');
    expect(JSON.parse(got[0]!.data)).toEqual({ actor: 'Zoë' });
  });

  it('reports a 401 without retrying', async () => {
    const f = vi.fn(async () => new Response('{}', { status: 401 }));
    vi.stubGlobal('fetch', f);
    const onUnauthorized = vi.fn();
    const result = await streamEvents({ url: '/s', token: 'old', signal: new AbortController().signal, onMessage: () => {}, onUnauthorized });
    expect(result).toBe('unauthorized');
    expect(onUnauthorized).toHaveBeenCalledOnce();
    expect(f).toHaveBeenCalledOnce();
  });
});
