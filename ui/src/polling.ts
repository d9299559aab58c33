import { useQuery } from '@tanstack/react-query';
import { api } from './api';

/** Polls a backup every second while it runs, then stops. */
export function useBackup(id: string | null | undefined) {
  return useQuery({
    queryKey: ['backup', id],
    queryFn: () => api.getBackup(id!),
    enabled: !!id,
    refetchInterval: (q) => (q.state.data?.status === 'running' || q.state.data === undefined ? 1000 : false),
  });
}

/** Polls a restore every second while it runs, then stops. */
export function useRestore(id: string | null | undefined) {
  return useQuery({
    queryKey: ['restore', id],
    queryFn: () => api.getRestore(id!),
    enabled: !!id,
    refetchInterval: (q) => (q.state.data?.status === 'running' || q.state.data === undefined ? 1000 : false),
  });
}
