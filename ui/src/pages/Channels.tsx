import { useEffect, useRef, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Channel, type ChannelTest, type CreatedChannel } from '../api';
import { redactUrls } from '../alerts';
import { ChannelForm, STYLES } from '../components/ChannelForm';
import { ErrorMessage } from '../components/ErrorMessage';
import { Time } from '../components/Time';
import { useAccess } from '../access';

/** Where alerts are sent: email recipients and webhooks. */
export function Channels() {
  const channels = useQuery({ queryKey: ['channels'], queryFn: api.listChannels, refetchInterval: 10_000 });
  // The secret of a channel just made: kept in this component only (never in the query cache).
  const [created, setCreated] = useState<CreatedChannel | null>(null);
  const noChange = useAccess().deny('channels');

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
      {noChange ? (
        <p className="denied" data-testid="channels-denied">
          {noChange}
        </p>
      ) : (
        <ChannelForm onCreated={setCreated} />
      )}
    </section>
  );
}

function describeTarget(c: Channel): string {
  if (c.type === 'email') return c.to.join(', ');
  const extra = [c.chat_id ? `chat ${c.chat_id}` : null, c.priority != null ? `priority ${c.priority}` : null].filter(Boolean);
  return [c.url ?? '', ...extra].join(' · ');
}

function styleLabel(c: Channel): string {
  if (c.type === 'email') return 'Email';
  const s = STYLES.find((x) => x.value === c.style);
  return `Webhook · ${s ? s.label.replace(/ \(.*\)$/, '') : (c.style ?? 'generic')}`;
}

function ChannelCard({ channel: c }: { channel: Channel }) {
  const qc = useQueryClient();
  const noChange = useAccess().deny('channels');
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
        {c.token_set ? <span className="badge badge-scheduled">Token set</span> : null}
        {c.failing ? (
          <span className="badge badge-failed" data-testid="channel-failing">
            Failing
          </span>
        ) : null}
        {noChange ? null : (
          <div className="channel-actions">
            <button type="button" onClick={() => test.mutate()} disabled={test.isPending}>
              {test.isPending ? 'Sending…' : 'Send test'}
            </button>
            <button type="button" ref={removeRef} onClick={() => setConfirming(true)} disabled={confirming || remove.isPending}>
              Remove…
            </button>
          </div>
        )}
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
