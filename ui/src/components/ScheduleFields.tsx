import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { ApiError, api, type CatchUp } from '../api';
import { useDebounced } from '../hooks';
import { CATCH_UP_LABELS, COMMON_TIMEZONES, CRON_EXAMPLES, browserTimeZone, formatUtcShort, formatZoned, naturalSchedule } from '../schedule';
import { Field, invalidProps } from './Field';

export interface ScheduleDraft {
  cron: string;
  timezone: string;
  catchUp: CatchUp;
}

/**
 * Schedule, time zone and catch-up, with a live preview from the server's own parser
 * (GET /schedules/preview, debounced): the schedule in words and its next runs in the schedule's
 * time zone and in UTC. `errors(field)` gives the save's field errors; the preview's come on top.
 */
export function ScheduleFields({
  value,
  onChange,
  errors,
  debounceMs = 350,
}: {
  value: ScheduleDraft;
  onChange: (next: ScheduleDraft, field: 'schedule' | 'timezone' | 'catch_up') => void;
  errors: (field: string) => string[];
  debounceMs?: number;
}) {
  const cron = value.cron.trim();
  const tz = value.timezone.trim();
  const settled = useDebounced(`${cron}\n${tz}`, debounceMs);
  const [qCron = '', qTz = ''] = settled.split('\n');
  const preview = useQuery({
    queryKey: ['schedule-preview', qCron, qTz],
    queryFn: ({ signal }) => api.schedulePreview(qCron, qTz, 5, signal),
    enabled: qCron !== '',
    placeholderData: keepPreviousData,
    retry: false,
    staleTime: 30_000,
  });
  const pending = settled !== `${cron}\n${tz}` || preview.isFetching;
  const current = qCron !== '' && qCron === cron && qTz === tz;
  const previewError = current && !preview.isFetching && preview.error instanceof ApiError ? preview.error : null;
  const previewFieldErrors = (field: string) => previewError?.fieldErrors(field) ?? [];
  // The preview and the save may say the same thing: show it once.
  const fieldErrors = (field: string) => [...new Set([...previewFieldErrors(field), ...errors(field)])];
  const scheduleErrors = fieldErrors('schedule');
  const tzErrors = fieldErrors('timezone');
  const catchUpErrors = fieldErrors('catch_up');
  const mine = browserTimeZone();
  const data = cron !== '' && !previewError ? preview.data : undefined;

  return (
    <fieldset className="form-section">
      <legend>Schedule</legend>
      <div className="schedule-grid">
        <Field
          id="db-schedule"
          label="Schedule (cron)"
          errors={scheduleErrors}
          className="schedule-cron"
          hint={
            <>
              5 fields (<code>min hour day month weekday</code>), 6 with seconds first, or <code>@daily</code>,{' '}
              <code>@hourly</code>… Leave empty for manual backups only.
            </>
          }
        >
          <input
            id="db-schedule"
            name="schedule"
            value={value.cron}
            onChange={(e) => onChange({ ...value, cron: e.target.value }, 'schedule')}
            list="cron-examples"
            autoComplete="off"
            spellCheck={false}
            placeholder="e.g. 0 3 * * *"
            className="mono"
            {...invalidProps('db-schedule', scheduleErrors)}
          />
          <datalist id="cron-examples">
            {CRON_EXAMPLES.map((x) => (
              <option key={x.cron} value={x.cron} label={x.label} />
            ))}
          </datalist>
        </Field>

        <Field
          id="db-timezone"
          label="Time zone"
          errors={tzErrors}
          hint={
            mine && mine !== (tz || 'UTC') ? (
              <>
                IANA name; empty means UTC.{' '}
                <button type="button" className="button-link inline" onClick={() => onChange({ ...value, timezone: mine }, 'timezone')}>
                  Use mine ({mine})
                </button>
              </>
            ) : (
              'IANA name, e.g. Europe/Paris; empty means UTC.'
            )
          }
        >
          <input
            id="db-timezone"
            name="timezone"
            value={value.timezone}
            onChange={(e) => onChange({ ...value, timezone: e.target.value }, 'timezone')}
            list="tz-list"
            autoComplete="off"
            spellCheck={false}
            placeholder="UTC"
            {...invalidProps('db-timezone', tzErrors)}
          />
          <datalist id="tz-list">
            {COMMON_TIMEZONES.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
        </Field>

        <Field
          id="db-catchup"
          label="Missed runs"
          errors={catchUpErrors}
          hint="What to do about slots missed while Backline was down or busy."
        >
          <select
            id="db-catchup"
            name="catch_up"
            value={value.catchUp}
            onChange={(e) => onChange({ ...value, catchUp: e.target.value as CatchUp }, 'catch_up')}
            {...invalidProps('db-catchup', catchUpErrors)}
          >
            {(Object.keys(CATCH_UP_LABELS) as CatchUp[]).map((c) => (
              <option key={c} value={c}>
                {CATCH_UP_LABELS[c]}
              </option>
            ))}
          </select>
        </Field>
      </div>

      <div
        className={`schedule-preview${pending && cron ? ' is-pending' : ''}`}
        data-testid="schedule-preview"
        data-state={cron === '' ? 'empty' : previewError ? 'error' : data ? 'ok' : 'loading'}
        aria-live="polite"
        aria-busy={pending && cron !== ''}
      >
        {cron === '' ? (
          <p className="muted">No schedule: this database is backed up only when someone presses “Back up now”.</p>
        ) : previewError ? (
          <p className="bad">
            {previewError.problem.errors?.length
              ? 'Fix the schedule above to see its next runs.'
              : previewError.message}
          </p>
        ) : preview.error && current && !preview.isFetching ? (
          <p className="bad">Could not check the schedule: {preview.error instanceof Error ? preview.error.message : String(preview.error)}</p>
        ) : data ? (
          <>
            <p className="schedule-description" data-testid="schedule-description">
              {naturalSchedule(data.description)}
            </p>
            <table className="runs" aria-label="Next 5 runs">
              <thead>
                <tr>
                  <th scope="col">Next runs ({tz || 'UTC'})</th>
                  <th scope="col">UTC</th>
                </tr>
              </thead>
              <tbody>
                {data.next_runs.map((utc, i) => (
                  <tr key={utc} data-testid="next-run">
                    <td>
                      <time dateTime={utc}>{formatZoned(data.next_runs_local[i] ?? utc)}</time>
                    </td>
                    <td className="muted">{formatUtcShort(utc)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        ) : (
          <p className="muted">Checking the schedule…</p>
        )}
      </div>
    </fieldset>
  );
}
