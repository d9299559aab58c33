import { describe, expect, it } from 'vitest';
import { sshBlock, sshChanged, sshDraft } from './SshFields';

const FP = 'SHA256:xTYHY0KRV+wh0LopvPjUinhDrbJ6HrplFtIouCqXKH0';
const saved = { host: 'bastion', port: 2222, user: 'backline', host_key_fingerprint: FP, auth: 'key' as const };

describe('SSH bastion draft', () => {
  it('sends nothing until host, user, secret and a confirmed fingerprint are all there', () => {
    const d = { ...sshDraft(), enabled: true, host: 'bastion', user: 'backline', secret: '-----BEGIN OPENSSH PRIVATE KEY-----' };
    expect(sshBlock(d)).toBeNull();
    expect(sshBlock({ ...d, fingerprint: FP })).toEqual({
      host: 'bastion',
      port: 22,
      user: 'backline',
      host_key_fingerprint: FP,
      private_key: '-----BEGIN OPENSSH PRIVATE KEY-----',
    });
    expect(sshBlock({ ...d, fingerprint: FP, auth: 'password', secret: 'pw' })).toMatchObject({ password: 'pw' });
    expect(sshBlock({ ...d, fingerprint: FP, enabled: false })).toBeNull();
  });

  it('a saved bastion is unchanged until something is edited; turning it off is a change', () => {
    const d = sshDraft(saved);
    expect(d).toMatchObject({ enabled: true, port: '2222', fingerprint: FP, secret: '' });
    expect(sshChanged(d, saved)).toBe(false);
    expect(sshChanged({ ...d, fingerprint: '' }, saved)).toBe(true);
    expect(sshChanged({ ...d, enabled: false }, saved)).toBe(true);
    expect(sshChanged(sshDraft(), null)).toBe(false);
  });
});
