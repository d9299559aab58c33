import { useEffect, useState } from 'react';

/** What GET /api/v1/oidc answers (no sign-in needed). */
export interface OidcInfo {
  enabled: boolean;
  name?: string | null;
  login_url?: string | null;
}

/**
 * "Sign in with <provider>" when the server has single sign-on configured; nothing otherwise.
 * A plain link: the browser goes to the provider and comes back signed in (session cookie).
 */
export function SsoButton() {
  const [info, setInfo] = useState<OidcInfo | null>(null);
  useEffect(() => {
    let live = true;
    fetch('/api/v1/oidc', { headers: { Accept: 'application/json' } })
      .then((r) => (r.ok ? (r.json() as Promise<OidcInfo>) : null))
      .then((v) => {
        if (live) setInfo(v);
      })
      .catch(() => {
        // No single sign-on button when the server cannot say: the form still works.
      });
    return () => {
      live = false;
    };
  }, []);
  if (!info?.enabled || !info.login_url) return null;
  return (
    <p className="sso">
      <a className="button" href={info.login_url}>
        Sign in with {info.name || 'SSO'}
      </a>
    </p>
  );
}
