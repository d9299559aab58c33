import { useEffect, useId, useRef, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Server } from '../api';
import { ErrorMessage } from './ErrorMessage';

/** Glob match as the server does it: `*` any run, `?` one character, the rest literal. */
export function globMatches(pattern: string, name: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('')
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('') +
      '$',
  );
  return re.test(name);
}

/**
 * The databases on a server, with a checkbox each (registered ones checked and disabled) and a
 * pattern that checks every match; the chosen ones are registered in one request with one
 * schedule and retention.
 */
export function DiscoveryDialog({ server, onClose }: { server: Server; onClose: () => void }) {
  const qc = useQueryClient();
  const titleId = useId();
  const dialogRef = useRef<HTMLDivElement>(null);
  const list = useQuery({ queryKey: ['server-databases', server.id], queryFn: () => api.serverDatabases(server.id) });
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [pattern, setPattern] = useState('');
  const [schedule, setSchedule] = useState('0 2 * * *');
  const [keepLast, setKeepLast] = useState('');
  const register = useMutation({
    mutationFn: () =>
      api.registerServerDatabases(server.id, {
        ...(pattern && chosen.size === 0 ? { pattern } : { databases: [...chosen] }),
        ...(schedule ? { schedule } : {}),
        ...(keepLast ? { retention: { keep_last: Number(keepLast) } } : {}),
      }),
    onSuccess: () => {
      setChosen(new Set());
      void qc.invalidateQueries({ queryKey: ['server-databases', server.id] });
      void qc.invalidateQueries({ queryKey: ['servers'] });
      void qc.invalidateQueries({ queryKey: ['databases'] });
    },
  });
  useEffect(() => {
    dialogRef.current?.querySelector<HTMLElement>('input, button')?.focus();
    function onKey(e: KeyboardEvent) {
      if (e.key === 'Escape') onClose();
    }
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [onClose]);

  const open = (list.data ?? []).filter((d) => !d.registered);
  function toggle(name: string, on: boolean) {
    const next = new Set(chosen);
    if (on) next.add(name);
    else next.delete(name);
    setChosen(next);
  }
  function applyPattern(p: string) {
    setPattern(p);
    setChosen(new Set(p ? open.filter((d) => globMatches(p, d.name)).map((d) => d.name) : []));
  }
  return (
    <div className="backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dialog card" role="dialog" aria-modal="true" aria-labelledby={titleId} ref={dialogRef}>
        <h2 id={titleId}>Databases on {server.name}</h2>
        {list.error ? <ErrorMessage error={list.error} /> : null}
        {list.isPending ? <p className="placeholder">Listing databases…</p> : null}
        <div className="field">
          <label htmlFor={`${titleId}-pattern`}>Choose by pattern</label>
          <input
            id={`${titleId}-pattern`}
            value={pattern}
            onChange={(e) => applyPattern(e.target.value)}
            placeholder="shop_*"
          />
        </div>
        {list.data ? (
          <fieldset className="checklist" data-testid="server-databases">
            <legend>Databases</legend>
            {list.data.length === 0 ? <p className="muted">No databases (system databases are left out).</p> : null}
            {list.data.map((d) => (
              <label key={d.name} className="checkbox">
                <input
                  type="checkbox"
                  checked={d.registered || chosen.has(d.name)}
                  disabled={d.registered || register.isPending}
                  onChange={(e) => toggle(d.name, e.target.checked)}
                />{' '}
                {d.name}
                {d.registered ? <span className="muted"> (registered)</span> : null}
              </label>
            ))}
          </fieldset>
        ) : null}
        <div className="field">
          <label htmlFor={`${titleId}-schedule`}>Schedule for all (cron)</label>
          <input id={`${titleId}-schedule`} value={schedule} onChange={(e) => setSchedule(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${titleId}-keep`}>Keep the last (versions, optional)</label>
          <input
            id={`${titleId}-keep`}
            inputMode="numeric"
            value={keepLast}
            onChange={(e) => setKeepLast(e.target.value.replace(/\D/g, ''))}
          />
        </div>
        {register.error ? <ErrorMessage error={register.error} /> : null}
        {register.data ? (
          <p role="status" data-testid="registered">
            Registered {register.data.length}: {register.data.map((d) => d.name).join(', ')}
          </p>
        ) : null}
        <div className="actions">
          <button
            type="button"
            className="primary"
            disabled={register.isPending || (chosen.size === 0 && !pattern)}
            onClick={() => register.mutate()}
          >
            Register {chosen.size > 0 ? chosen.size : ''} selected
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}
