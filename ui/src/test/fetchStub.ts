import { vi } from 'vitest';

export interface StubCall {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string>;
}

type Handler = (call: StubCall) => { status: number; body?: unknown } | undefined;

/** Replaces fetch with `handler`; unmatched calls answer 404 problem+json. Returns the recorded calls. */
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
      const res = handler(call) ?? { status: 404, body: { title: 'Not Found', status: 404 } };
      const isProblem = res.status >= 400;
      return new Response(res.body === undefined ? null : JSON.stringify(res.body), {
        status: res.status,
        headers: { 'Content-Type': isProblem ? 'application/problem+json' : 'application/json' },
      });
    }),
  );
  return calls;
}
