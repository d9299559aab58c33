import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, fieldErrorsOf, type Channel, type ChannelTest, type CreatedChannel, type FieldError, type NewChannel, type WebhookStyle } from '../api';
import { redactUrls } from '../alerts';
import { ErrorMessage } from '../components/ErrorMessage';
import { Field, invalidProps } from '../components/Field';
import { Time } from '../components/Time';

const STYLES: { value: WebhookStyle; label: string }[] = [
  { value: 'slack', label: 'Slack' },
  { value: 'discord', label: 'Discord' },
  { value: 'generic', label: 'Generic (signed JSON)' },
];

/** Where alerts are sent: email recipients and webhooks. */
export function Channels() {
  const channels = useQuery({ queryKey: ['channels'], queryFn: api.listChannels, refetchInterval: 10_000 });
  // The secret of a channel just made: kept in this component only (never in the query cache).
  const [created, setCreated] = useState<CreatedChannel | null>(null);

  return (
    <section className="page">
      <div className="page-head">
        <h1>Channels</h1>
      </div>
      <p className="muted intro">
        Alerts (a failed, stalled or abandoned backup, a failed restore or copy, a missed schedule) are sent to every channel
        below when raised and when resolved.
      </p>
      {created?.secret ? <SecretOnce channel={created} onDone={() => setCreated(null)} /> : null}
      {channels.error ? <ErrorMessage error={channels.error} /> : null}
      {channels.isPending ? <p className="placeholder">Loading channels…</p> : null}
      {channels.data && channels.data.length === 0 ? <p className="empty card">No channels yet: alerts are only shown here, not sent anywhere.</p> : null}
      {channels.data && channels.data.length > 0 ? (
        <ul className="channels" aria-label="Channels">
          {channels.data.map((c) => (
            <ChannelCard key={c.id} channel={c} />
          ))}
        </ul>
      ) : null}
      <ChannelForm onCreated={setCreated} />
    </section>
  );
}

function describeTarget(c: Channel): string {
  if (c.type === 'email') return c.to.join(', ');
  return c.url ?? '';
}

function styleLabel(c: Channel): string {
  if (c.type === 'email') return 'Email';
  const s = STYLES.find((x) => x.value === c.style);
  return `Webhook · ${s ? s.label.replace(/ \(.*\)$/, '') : (c.style ?? 'generic')}`;
}

function ChannelCard({ channel: c }: { channel: Channel }) {
  const qc = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const removeRef = useRef<HTMLButtonElement>(null);
  const test = useMutation({
    mutationFn: () => api.testChannel(c.id),
    onSettled: () => void qc.invalidateQueries({ queryKey: ['channels'] }),
  });
  const remove = useMutation({
    mutationFn: () => api.removeChannel(c.id),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['channels'] }),
  });
  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
  }, [confirming]);
  const titleId = `channel-${c.id}-name`;
  return (
    <li className={`card channel${c.failing ? ' is-failing' : ''}`} data-testid="channel" data-channel-id={c.id} aria-labelledby={titleId}>
      <div className="channel-head">
        <h2 id={titleId} className="channel-name">
          {c.name}
        </h2>
        <span className="muted">{styleLabel(c)}</span>
        {c.signed ? <span className="badge badge-scheduled">Signed</span> : null}
        {c.failing ? (
          <span className="badge badge-failed" data-testid="channel-failing">
            Failing
          </span>
        ) : null}
        <div className="channel-actions">
          <button type="button" onClick={() => test.mutate()} disabled={test.isPending}>
            {test.isPending ? 'Sending…' : 'Send test'}
          </button>
          <button type="button" ref={removeRef} onClick={() => setConfirming(true)} disabled={confirming || remove.isPending}>
            Remove…
          </button>
        </div>
      </div>
      <p className="channel-target">
        <code className="break">{describeTarget(c)}</code>
      </p>
      <dl className="mini-facts">
        <div>
          <dt>Delivered</dt>
          <dd>{c.deliveries_ok}</dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd className={c.deliveries_failed > 0 ? 'bad' : undefined}>{c.deliveries_failed}</dd>
        </div>
        <div>
          <dt>Last delivered</dt>
          <dd>
            <Time iso={c.last_delivered_at} />
          </dd>
        </div>
        <div>
          <dt>Added</dt>
          <dd>
            <Time iso={c.created_at} />
          </dd>
        </div>
      </dl>
      {c.last_error ? (
        <p className={`channel-error${c.failing ? '' : ' muted'}`} data-testid="channel-last-error">
          <span className="label">{c.failing ? (c.consecutive_failures === 1 ? 'The last delivery failed.' : `The last ${c.consecutive_failures} deliveries failed.`) : 'Last error'}</span>{' '}
          {c.last_error_at ? (
            <>
              (<Time iso={c.last_error_at} />){' '}
            </>
          ) : null}
          {redactUrls(c.last_error)}
        </p>
      ) : null}
      <div className="test-result" role="status" data-testid="channel-test-result">
        <TestOutcome result={test.data} error={test.error} lastTest={test.isIdle ? c.last_test : null} />
      </div>
      {confirming ? (
        <div className="confirm-inline" role="group" aria-label={`Remove channel ${c.name}`}>
          <p>
            Remove <strong>{c.name}</strong>? Alerts will no longer be sent there, and its URL and secret are destroyed.
          </p>
          <div className="actions">
            <button ref={confirmRef} type="button" className="danger" onClick={() => remove.mutate()} disabled={remove.isPending}>
              {remove.isPending ? 'Removing…' : 'Remove channel'}
            </button>
            <button
              type="button"
              onClick={() => {
                setConfirming(false);
                remove.reset();
                setTimeout(() => removeRef.current?.focus());
              }}
            >
              Cancel
            </button>
          </div>
          {remove.error ? <ErrorMessage error={remove.error} /> : null}
        </div>
      ) : null}
    </li>
  );
}

function TestOutcome({ result, error, lastTest }: { result?: ChannelTest; error: unknown; lastTest: Channel['last_test'] }) {
  if (error) return <span className="bad">✗ {error instanceof Error ? error.message : String(error)}</span>;
  if (result) {
    return result.ok ? (
      <span className="ok">✓ Test delivered{result.status_code !== null ? ` (HTTP ${result.status_code})` : ''}</span>
    ) : (
      <span className="bad">
        ✗ Test failed{result.status_code !== null ? ` (HTTP ${result.status_code})` : ''}: {redactUrls(result.error ?? 'no reason given')}
      </span>
    );
  }
  if (lastTest && typeof lastTest === 'object' && lastTest.at) {
    const ok = lastTest.outcome === 'delivered';
    return (
      <span className="muted">
        Last test <Time iso={lastTest.at} />: {ok ? 'delivered' : `failed${lastTest.error ? ` — ${redactUrls(lastTest.error)}` : ''}`}
      </span>
    );
  }
  return null;
}

/** The generic webhook's signing secret, shown once right after creation. */
function SecretOnce({ channel, onDone }: { channel: CreatedChannel; onDone: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);
  useEffect(() => ref.current?.focus(), []);
  async function copy() {
    try {
      await navigator.clipboard.writeText(channel.secret ?? '');
      setCopied('yes');
    } catch {
      setCopied('no');
    }
  }
  return (
    <div className="alert alert-warn secret-once" role="alert" tabIndex={-1} ref={ref} data-testid="secret-once">
      <strong>Copy the signing secret of “{channel.name}” now: it is shown only this once.</strong>
      <p>
        Your receiver checks <code>X-Backline-Signature: sha256=HMAC-SHA256(secret, raw body)</code> with it. Backline keeps it
        encrypted and will not show it again.
      </p>
      <div className="secret-row">
        <label htmlFor="secret-value" className="visually-hidden">
          Signing secret
        </label>
        <input id="secret-value" className="mono" readOnly value={channel.secret ?? ''} onFocus={(e) => e.currentTarget.select()} data-testid="secret-value" />
        <button type="button" onClick={() => void copy()}>
          Copy
        </button>
        <button type="button" className="primary" onClick={onDone}>
          I have copied it
        </button>
      </div>
      <p className="hint" role="status">
        {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'no' ? 'Could not copy: select the text and copy it by hand.' : ''}
      </p>
    </div>
  );
}

/**
 * The field errors of a failed "Add channel". A server without SMTP refuses an email channel,
 * either as a `type` field error or with a detail naming BACKLINE_SMTP_URL: both belong beside
 * the type choice.
 */
export function channelFieldErrors(error: unknown, type: 'email' | 'webhook'): FieldError[] {
  const errs = fieldErrorsOf(error);
  if (errs.length) return errs;
  const detail = error instanceof ApiError ? (error.problem.detail ?? '') : '';
  if (type === 'email' && /BACKLINE_SMTP_URL|\bSMTP\b/i.test(detail)) return [{ field: 'type', message: detail }];
  return [];
}

/** The input a field's error belongs to, in form order (the first gets the focus). */
const CHANNEL_INPUTS: [field: string, inputId: string][] = [
  ['name', 'ch-name'],
  ['type', 'ch-type-checked'],
  ['to', 'ch-to'],
  ['style', 'ch-style'],
  ['url', 'ch-url'],
  ['secret', 'ch-secret'],
];

function ChannelForm({ onCreated }: { onCreated: (c: CreatedChannel) => void }) {
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [type, setType] = useState<'email' | 'webhook'>('webhook');
  const [to, setTo] = useState('');
  const [style, setStyle] = useState<WebhookStyle>('slack');
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState('');

  // The type of the last request: its answer is about that one, whatever is chosen now.
  const sentType = useRef<'email' | 'webhook'>(type);
  const create = useMutation({
    mutationFn: () => {
      sentType.current = type;
      const body: NewChannel = { name: name.trim(), type };
      if (type === 'email') {
        body.to = to
          .split(/[\s,;]+/)
          .map((s) => s.trim())
          .filter(Boolean);
      } else {
        body.style = style;
        body.url = url.trim();
        if (style === 'generic' && secret.trim()) body.secret = secret.trim();
      }
      return api.createChannel(body);
    },
    onSuccess: (c) => {
      // The list shows the channel without its secret; the secret stays in `created` until dismissed.
      const { secret: shown, ...channel } = c;
      qc.setQueryData<Channel[]>(['channels'], (old) => (old ? [channel, ...old.filter((x) => x.id !== c.id)] : old));
      void qc.invalidateQueries({ queryKey: ['channels'] });
      if (shown) onCreated(c);
      setName('');
      setTo('');
      setUrl('');
      setSecret('');
    },
  });

  const apiError = create.error instanceof ApiError ? create.error : null;
  const serverErrors = channelFieldErrors(create.error, sentType.current);
  const [edited, setEdited] = useState<Set<string>>(new Set());
  useEffect(() => setEdited(new Set()), [apiError]);
  const touch = (f: string) => setEdited((s) => (s.has(f) ? s : new Set(s).add(f)));
  const errs = (f: string) =>
    edited.has(f) ? [] : serverErrors.filter((e) => e.field === f || e.field.startsWith(`${f}.`) || e.field.startsWith(`${f}[`)).map((e) => e.message);
  const shownFields: string[] = ['name', 'type', ...(type === 'email' ? ['to'] : ['style', 'url', ...(style === 'generic' ? ['secret'] : [])])];
  const otherFieldErrors = serverErrors.filter((e) => !shownFields.some((f) => e.field === f || e.field.startsWith(`${f}.`) || e.field.startsWith(`${f}[`)));
  // The general error (at the top) is only for what no field shows.
  const general = create.error && (serverErrors.length === 0 || otherFieldErrors.length > 0) ? create.error : null;
  const generalRef = useRef<HTMLDivElement>(null);
  const formRef = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (!create.error) return;
    const first = CHANNEL_INPUTS.find(([f]) => serverErrors.some((e) => e.field === f || e.field.startsWith(`${f}.`) || e.field.startsWith(`${f}[`)));
    const el =
      first?.[0] === 'type'
        ? formRef.current?.querySelector<HTMLInputElement>('input[name="ch-type"]:checked')
        : first
          ? document.getElementById(first[1])
          : null;
    if (el && otherFieldErrors.length === 0) el.focus();
    else generalRef.current?.focus();
    // Only when a new answer arrives.
  }, [create.error]);

  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate();
  }

  return (
    <form ref={formRef} className="card form channel-form" onSubmit={submit} noValidate aria-labelledby="add-channel-title">
      <h2 id="add-channel-title">Add a channel</h2>
      {general ? (
        <div ref={generalRef} tabIndex={-1} className="form-error" data-testid="form-error">
          <ErrorMessage error={general} fieldErrors={otherFieldErrors} />
        </div>
      ) : null}
      <Field id="ch-name" label="Name" hint="Shown in this list and in the notifications’ logs." errors={errs('name')}>
        <input
          id="ch-name"
          value={name}
          autoComplete="off"
          onChange={(e) => {
            setName(e.target.value);
            touch('name');
          }}
          {...invalidProps('ch-name', errs('name'))}
        />
      </Field>
      <fieldset className={`field type-choice${errs('type').length ? ' has-error' : ''}`} aria-describedby={errs('type').length ? 'ch-type-error' : undefined}>
        <legend>Type</legend>
        <label className="radio">
          <input
            type="radio"
            name="ch-type"
            value="webhook"
            checked={type === 'webhook'}
            onChange={() => {
              setType('webhook');
              touch('type');
            }}
            aria-describedby={errs('type').length ? 'ch-type-error' : undefined}
          />
          Webhook (Slack, Discord or your own endpoint)
        </label>
        <label className="radio">
          <input
            type="radio"
            name="ch-type"
            value="email"
            checked={type === 'email'}
            onChange={() => {
              setType('email');
              touch('type');
            }}
            aria-describedby={errs('type').length ? 'ch-type-error' : undefined}
          />
          Email
        </label>
        {errs('type').length ? (
          <p id="ch-type-error" className="field-error">
            {errs('type').join(' ')}
          </p>
        ) : null}
      </fieldset>
      {type === 'email' ? (
        <Field id="ch-to" label="Recipients" hint="One or more addresses, separated by commas. Needs BACKLINE_SMTP_URL on the server." errors={errs('to')}>
          <input
            id="ch-to"
            type="text"
            inputMode="email"
            value={to}
            placeholder="ops@example.com, oncall@example.com"
            onChange={(e) => {
              setTo(e.target.value);
              touch('to');
            }}
            {...invalidProps('ch-to', errs('to'))}
          />
        </Field>
      ) : (
        <>
          <Field id="ch-style" label="Style" errors={errs('style')}>
            <select
              id="ch-style"
              value={style}
              onChange={(e) => {
                setStyle(e.target.value as WebhookStyle);
                touch('style');
              }}
              {...invalidProps('ch-style', errs('style'))}
            >
              {STYLES.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </select>
          </Field>
          <Field
            id="ch-url"
            label="Webhook URL"
            hint={style === 'generic' ? 'Receives the alert as JSON, signed with HMAC-SHA256.' : 'Stored encrypted; shown shortened afterwards.'}
            errors={errs('url')}
          >
            <input
              id="ch-url"
              type="url"
              className="mono"
              value={url}
              autoComplete="off"
              spellCheck={false}
              placeholder={style === 'slack' ? 'https://hooks.slack.com/services/…' : style === 'discord' ? 'https://discord.com/api/webhooks/…' : 'https://example.com/backline-hook'}
              onChange={(e) => {
                setUrl(e.target.value);
                touch('url');
              }}
              {...invalidProps('ch-url', errs('url'))}
            />
          </Field>
          {style === 'generic' ? (
            <Field id="ch-secret" label="Signing secret (optional)" hint="Leave empty and Backline makes one up; it is shown once after adding." errors={errs('secret')}>
              <input
                id="ch-secret"
                className="mono"
                value={secret}
                autoComplete="off"
                spellCheck={false}
                onChange={(e) => {
                  setSecret(e.target.value);
                  touch('secret');
                }}
                {...invalidProps('ch-secret', errs('secret'))}
              />
            </Field>
          ) : null}
        </>
      )}
      <div className="actions">
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? 'Adding…' : 'Add channel'}
        </button>
      </div>
    </form>
  );
}
