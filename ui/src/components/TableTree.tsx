import { useEffect, useRef } from 'react';
import type { VersionContents } from '../api';
import { plural } from '../format';

function SchemaBox({
  schema,
  names,
  chosen,
  onChange,
  disabled,
}: {
  schema: string;
  names: string[];
  chosen: Set<string>;
  onChange: (names: string[], on: boolean) => void;
  disabled: boolean;
}) {
  const ref = useRef<HTMLInputElement>(null);
  const count = names.filter((n) => chosen.has(n)).length;
  useEffect(() => {
    if (ref.current) ref.current.indeterminate = count > 0 && count < names.length;
  }, [count, names.length]);
  return (
    <label className="checkbox">
      <input
        ref={ref}
        type="checkbox"
        checked={names.length > 0 && count === names.length}
        disabled={disabled || names.length === 0}
        onChange={(e) => onChange(names, e.target.checked)}
      />{' '}
      <strong>{schema}</strong> <span className="muted">({plural(names.length, 'table')})</span>
    </label>
  );
}

/**
 * The tables of a version as a tree (schema ▸ tables, with their row counts), a checkbox each;
 * a schema's checkbox chooses all its tables.
 */
export function TableTree({
  contents,
  chosen,
  onChange,
  disabled = false,
}: {
  contents: VersionContents;
  chosen: Set<string>;
  onChange: (next: Set<string>) => void;
  disabled?: boolean;
}) {
  function set(names: string[], on: boolean) {
    const next = new Set(chosen);
    for (const n of names) {
      if (on) next.add(n);
      else next.delete(n);
    }
    onChange(next);
  }
  const groups = new Map<string, VersionContents['tables']>();
  for (const t of contents.tables) {
    const key = t.schema ?? '';
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  return (
    <ul className="table-tree" data-testid="table-tree" aria-label="Tables of this version">
      {[...groups.entries()].map(([schema, tables]) => (
        <li key={schema}>
          {schema ? (
            <SchemaBox
              schema={schema}
              names={tables.map((t) => t.name)}
              chosen={chosen}
              onChange={set}
              disabled={disabled}
            />
          ) : null}
          <ul>
            {tables.map((t) => (
              <li key={t.name}>
                <label className="checkbox">
                  <input
                    type="checkbox"
                    checked={chosen.has(t.name)}
                    disabled={disabled}
                    onChange={(e) => set([t.name], e.target.checked)}
                  />{' '}
                  {t.table}
                  {t.rows !== null ? <span className="muted"> — {plural(t.rows, 'row')}</span> : null}
                </label>
              </li>
            ))}
          </ul>
        </li>
      ))}
    </ul>
  );
}
