import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, fieldErrorsOf, type Channel, type CreatedChannel, type FieldError, type NewChannel, type WebhookStyle } from '../api';
import { ErrorMessage } from './ErrorMessage';
import { Field, invalidProps } from './Field';

export const STYLES: { value: WebhookStyle; label: string }[] = [
  { value: 'slack', label: 'Slack' },
  { value: 'discord', label: 'Discord' },
  { value: 'generic', label: 'Generic (signed JSON)' },
];

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

/** "Add a channel": email recipients or a webhook; every field's error beside its field. */
export function ChannelForm({ onCreated }: { onCreated: (c: CreatedChannel) => void }) {
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
