import { useState } from 'react';
import { ApiError, api, type HostKey, type SshBlock, type SshView } from '../api';
import { Field } from './Field';

/** What the form holds of an SSH bastion. */
export interface SshDraft {
  enabled: boolean;
  host: string;
  port: string;
  user: string;
  auth: 'key' | 'password';
  secret: string;
  /** The fingerprint the operator confirmed (from a scan, or typed after checking it). */
  fingerprint: string;
}

export function sshDraft(view?: SshView | null): SshDraft {
  return {
    enabled: !!view,
    host: view?.host ?? '',
    port: String(view?.port ?? 22),
    user: view?.user ?? '',
    auth: view?.auth ?? 'key',
    secret: '',
    fingerprint: view?.host_key_fingerprint ?? '',
  };
}

/** The request's `ssh` block, or null when the draft is off or incomplete. */
export function sshBlock(d: SshDraft): SshBlock | null {
  if (!d.enabled || !d.host.trim() || !d.user.trim() || !d.secret || !d.fingerprint.trim()) return null;
  const block: SshBlock = {
    host: d.host.trim(),
    port: Number(d.port) || 22,
    user: d.user.trim(),
    host_key_fingerprint: d.fingerprint.trim(),
  };
  if (d.auth === 'key') block.private_key = d.secret;
  else block.password = d.secret;
  return block;
}

/** Whether the draft differs from what is saved (a change needs the secret again). */
export function sshChanged(d: SshDraft, view?: SshView | null): boolean {
  if (!d.enabled) return !!view;
  const was = sshDraft(view);
  return !view || d.secret !== '' || d.host !== was.host || d.port !== was.port || d.user !== was.user || d.fingerprint !== was.fingerprint || d.auth !== was.auth;
}

/**
 * The SSH bastion section: host, port, user, key or password, and the host key. "Scan host key"
 * shows what the bastion offers; the operator confirms one (nothing is trusted on first use).
 */
export function SshFields({ value, onChange, errors }: { value: SshDraft; onChange: (d: SshDraft) => void; errors: string[] }) {
  const [scan, setScan] = useState<{ keys?: HostKey[]; error?: string; busy?: boolean } | null>(null);
  const set = (patch: Partial<SshDraft>) => onChange({ ...value, ...patch });

  async function runScan() {
    setScan({ busy: true });
    try {
      setScan({ keys: await api.scanSsh(value.host.trim(), Number(value.port) || 22) });
    } catch (e) {
      setScan({ error: e instanceof ApiError ? e.message : String(e) });
    }
  }

  return (
    <fieldset className="form-section" aria-labelledby="ssh-legend">
      <legend id="ssh-legend">SSH bastion</legend>
      <label className="inline">
        <input type="checkbox" checked={value.enabled} onChange={(e) => set({ enabled: e.target.checked })} /> Reach this
        database through an SSH bastion
      </label>
      {value.enabled && (
        <>
          {errors.length > 0 && (
            <p className="field-error" id="ssh-error" role="alert">
              {errors.join(' ')}
            </p>
          )}
          <Field id="ssh-host" label="Bastion host" errors={[]} hint="The connection URL above names the database as the bastion sees it.">
            <input id="ssh-host" value={value.host} onChange={(e) => set({ host: e.target.value, fingerprint: '' })} autoComplete="off" spellCheck={false} />
          </Field>
          <Field id="ssh-port" label="Port" errors={[]}>
            <input id="ssh-port" value={value.port} inputMode="numeric" onChange={(e) => set({ port: e.target.value, fingerprint: '' })} />
          </Field>
          <Field id="ssh-user" label="User" errors={[]}>
            <input id="ssh-user" value={value.user} onChange={(e) => set({ user: e.target.value })} autoComplete="off" spellCheck={false} />
          </Field>
          <Field id="ssh-auth" label="Sign in with" errors={[]}>
            <select id="ssh-auth" value={value.auth} onChange={(e) => set({ auth: e.target.value as SshDraft['auth'], secret: '' })}>
              <option value="key">Private key</option>
              <option value="password">Password</option>
            </select>
          </Field>
          <Field
            id="ssh-secret"
            label={value.auth === 'key' ? 'Private key (unencrypted, OpenSSH or PEM)' : 'Password'}
            errors={[]}
            hint="Encrypted at rest and never shown again. A saved bastion keeps its secret until you change something here."
          >
            {value.auth === 'key' ? (
              <textarea id="ssh-secret" rows={4} value={value.secret} onChange={(e) => set({ secret: e.target.value })} spellCheck={false} placeholder="-----BEGIN OPENSSH PRIVATE KEY-----" />
            ) : (
              <input id="ssh-secret" type="password" value={value.secret} onChange={(e) => set({ secret: e.target.value })} autoComplete="new-password" />
            )}
          </Field>
          <div className="test-row">
            <button type="button" onClick={runScan} disabled={scan?.busy || !value.host.trim()}>
              {scan?.busy ? 'Scanning…' : 'Scan host key'}
            </button>
            <div role="status" aria-live="polite" data-testid="ssh-scan">
              {scan?.error && <span className="bad">✗ {scan.error}</span>}
            </div>
          </div>
          {scan?.keys && (
            <fieldset className="checklist" data-testid="ssh-host-keys">
              <legend>The bastion offers these host keys. Check the fingerprint with its administrator (ssh-keygen -lf on the bastion), then confirm one:</legend>
              {scan.keys.map((k) => (
                <label key={k.fingerprint} className="inline">
                  <input
                    type="radio"
                    name="ssh-host-key"
                    checked={value.fingerprint === k.fingerprint}
                    onChange={() => set({ fingerprint: k.fingerprint })}
                  />{' '}
                  I confirm <code>{k.fingerprint}</code> ({k.algorithm})
                </label>
              ))}
            </fieldset>
          )}
          <Field id="ssh-fingerprint" label="Pinned host key fingerprint" errors={[]} hint="Required: SHA256:… Backline refuses a bastion that offers any other key.">
            <input id="ssh-fingerprint" value={value.fingerprint} onChange={(e) => set({ fingerprint: e.target.value })} autoComplete="off" spellCheck={false} placeholder="SHA256:…" />
          </Field>
        </>
      )}
    </fieldset>
  );
}
