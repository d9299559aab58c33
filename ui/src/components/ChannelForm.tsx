import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, fieldErrorsOf, type Channel, type CreatedChannel, type FieldError, type NewChannel, type WebhookStyle } from '../api';
import { ErrorMessage } from './ErrorMessage';
import { Field, invalidProps } from './Field';

export const STYLES: { value: WebhookStyle; label: string }[] = [
  { value: 'slack', label: 'Slack' },
  { value: 'discord', label: 'Discord' },
  { value: 'generic', label: 'Generic (signed JSON)' },
  { value: 'mattermost', label: 'Mattermost' },
  { value: 'teams', label: 'Microsoft Teams (workflow)' },
  { value: 'telegram', label: 'Telegram' },
  { value: 'ntfy', label: 'ntfy' },
  { value: 'gotify', label: 'Gotify' },
];

/** What each style asks for besides its URL. */
const TOKEN_STYLES: Partial<Record<WebhookStyle, { label: string; hint: string; required: boolean }>> = {
  telegram: { label: 'Bot token', hint: 'From @BotFather (123456789:AA…). Stored encrypted, never shown again.', required: true },
  ntfy: { label: 'Access token (optional)', hint: 'For a protected topic (tk_…). Stored encrypted, never shown again.', required: false },
  gotify: { label: 'Application token', hint: 'From Gotify’s Apps page. Stored encrypted, never shown again.', required: true },
};
const PRIORITY: Partial<Record<WebhookStyle, { min: number; max: number; default: number }>> = {
  ntfy: { min: 1, max: 5, default: 4 },
  gotify: { min: 0, max: 10, default: 8 },
};
const URL_HINTS: Partial<Record<WebhookStyle, { label: string; placeholder: string; hint: string }>> = {
  mattermost: { label: 'Incoming webhook URL', placeholder: 'https://mattermost.example.com/hooks/…', hint: 'Stored encrypted; shown shortened afterwards.' },
  teams: { label: 'Workflow URL', placeholder: 'https://….logic.azure.com/workflows/…', hint: 'From the Teams workflow “Post to a channel when a webhook request is received”. Stored encrypted.' },
  telegram: { label: 'Bot API URL (optional)', placeholder: 'https://api.telegram.org', hint: 'Leave empty for Telegram’s own; set it for a local Bot API server.' },
  ntfy: { label: 'Topic URL', placeholder: 'https://ntfy.sh/your-topic', hint: 'The server and the topic. Stored encrypted: a topic name is a password.' },
  gotify: { label: 'Server URL', placeholder: 'https://gotify.example.com', hint: 'Messages are posted to its /message. Stored encrypted.' },
};

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
  ['token', 'ch-token'],
  ['chat_id', 'ch-chat'],
  ['priority', 'ch-priority'],
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
  const [token, setToken] = useState('');
  const [chatId, setChatId] = useState('');
  const [priority, setPriority] = useState('');
  const tokenField = TOKEN_STYLES[style];
  const priorityRange = PRIORITY[style];
  const urlHint = URL_HINTS[style];

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
        if (url.trim() || style !== 'telegram') body.url = url.trim();
        if (style === 'generic' && secret.trim()) body.secret = secret.trim();
        if (tokenField && token.trim()) body.token = token.trim();
        if (style === 'telegram') body.chat_id = chatId.trim();
        if (priorityRange && priority.trim()) body.priority = Number(priority);
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
      setToken('');
      setChatId('');
      setPriority('');
    },
  });

  const apiError = create.error instanceof ApiError ? create.error : null;
  const serverErrors = channelFieldErrors(create.error, sentType.current);
  const [edited, setEdited] = useState<Set<string>>(new Set());
  useEffect(() => setEdited(new Set()), [apiError]);
  const touch = (f: string) => setEdited((s) => (s.has(f) ? s : new Set(s).add(f)));
  const errs = (f: string) =>
    edited.has(f) ? [] : serverErrors.filter((e) => e.field === f || e.field.startsWith(`${f}.`) || e.field.startsWith(`${f}[`)).map((e) => e.message);
  const shownFields: string[] = ['name', 'type', ...(type === 'email' ? ['to'] : ['style', 'url', ...(style === 'generic' ? ['secret'] : []), ...(tokenField ? ['token'] : []), ...(style === 'telegram' ? ['chat_id'] : []), ...(priorityRange ? ['priority'] : [])])];
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
          Webhook or chat (Slack, Discord, Teams, Mattermost, Telegram, ntfy, Gotify or your own endpoint)
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
                // A token or priority meant for one service is never sent to another.
                setToken('');
                setPriority('');
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
            label={urlHint?.label ?? 'Webhook URL'}
            hint={urlHint?.hint ?? (style === 'generic' ? 'Receives the alert as JSON, signed with HMAC-SHA256.' : 'Stored encrypted; shown shortened afterwards.')}
            errors={errs('url')}
          >
            <input
              id="ch-url"
              type="url"
              className="mono"
              value={url}
              autoComplete="off"
              spellCheck={false}
              placeholder={urlHint ? urlHint.placeholder : style === 'slack' ? 'https://hooks.slack.com/services/…' : style === 'discord' ? 'https://discord.com/api/webhooks/…' : 'https://example.com/backline-hook'}
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
          {tokenField ? (
            <Field id="ch-token" label={tokenField.label} hint={tokenField.hint} errors={errs('token')}>
              <input
                id="ch-token"
                type="password"
                className="mono"
                value={token}
                autoComplete="off"
                spellCheck={false}
                required={tokenField.required}
                onChange={(e) => {
                  setToken(e.target.value);
                  touch('token');
                }}
                {...invalidProps('ch-token', errs('token'))}
              />
            </Field>
          ) : null}
          {style === 'telegram' ? (
            <Field id="ch-chat" label="Chat id" hint="A numeric id such as -1001234567890, or @channelname." errors={errs('chat_id')}>
              <input
                id="ch-chat"
                className="mono"
                value={chatId}
                autoComplete="off"
                spellCheck={false}
                required
                onChange={(e) => {
                  setChatId(e.target.value);
                  touch('chat_id');
                }}
                {...invalidProps('ch-chat', errs('chat_id'))}
              />
            </Field>
          ) : null}
          {priorityRange ? (
            <Field
              id="ch-priority"
              label="Priority (optional)"
              hint={`${priorityRange.min}–${priorityRange.max}; ${priorityRange.default} when empty.`}
              errors={errs('priority')}
            >
              <input
                id="ch-priority"
                type="number"
                inputMode="numeric"
                min={priorityRange.min}
                max={priorityRange.max}
                value={priority}
                placeholder={String(priorityRange.default)}
                onChange={(e) => {
                  setPriority(e.target.value);
                  touch('priority');
                }}
                {...invalidProps('ch-priority', errs('priority'))}
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
