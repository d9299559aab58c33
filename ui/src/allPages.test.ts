import { afterEach, describe, expect, it, vi } from 'vitest';
import { allPages } from './api';
import { stubFetch } from './test/fetchStub';

afterEach(() => vi.unstubAllGlobals());

describe('allPages', () => {
  it('follows next until the last page, each item once, in order', async () => {
    const calls = stubFetch((c) => {
      if (c.path === '/api/v1/restores?database_id=d1&limit=1000') return { status: 200, body: { items: [3, 2], next: '2' } };
      if (c.path === '/api/v1/restores?database_id=d1&limit=1000&cursor=2') return { status: 200, body: { items: [1], next: null } };
      return undefined;
    });
    await expect(allPages<number>('/restores', { database_id: 'd1' })).resolves.toEqual([3, 2, 1]);
    expect(calls).toHaveLength(2);
  });
});
