import { vi } from 'vitest';

export interface StubCall {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string>;
}

/** GET /session of the bootstrap admin token: what a test that does not care about roles runs as. */
export const ADMIN_SESSION = {
  actor: 'token:bootstrap',
  name: 'bootstrap admin token',
  display_name: null,
  role: 'admin',
  databases: null,
  csrf_token: null,
} as const;

/** What the stub answers when the handler does not: the admin's session, else 404 problem+json. */
function fallback(call: StubCall): { status: number; body?: unknown } {
  if (call.method === 'GET' && call.path === '/api/v1/session') return { status: 200, body: ADMIN_SESSION };
  return { status: 404, body: { title: 'Not Found', status: 404 } };
}

type Handler = (call: StubCall) => { status: number; body?: unknown } | undefined;

/** Replaces fetch with `handler`; unmatched calls answer as `fallback` says. Returns the recorded calls. */
export function stubFetch(handler: Handler): StubCall[] {
  const calls: StubCall[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = new URL(String(input), 'http://localhost');
      const call: StubCall = {
        method: init?.method ?? 'GET',
        path: url.pathname + url.search,
        body: init?.body ? JSON.parse(String(init.body)) : undefined,
        headers: (init?.headers ?? {}) as Record<string, string>,
      };
      calls.push(call);
      const res = handler(call) ?? fallback(call);
      const isProblem = res.status >= 400;
      return new Response(res.body === undefined ? null : JSON.stringify(res.body), {
        status: res.status,
        headers: { 'Content-Type': isProblem ? 'application/problem+json' : 'application/json' },
      });
    }),
  );
  return calls;
}
