// The connection URL is edited without its password; the password has its own masked field and is
// put into the URL's userinfo only when the request is sent.

const URL_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)(?:([^@/?#]*)@)?(.*)$/s;

export interface SplitConnection {
  /** The URL with any password removed. */
  url: string;
  /** The password found in the URL ('' if none, or if it was the server's `***` redaction). */
  password: string;
}

/** Takes `scheme://user:pass@host/db` apart into the URL without password and the password. */
export function splitConnection(connection: string): SplitConnection {
  const m = URL_RE.exec(connection.trim());
  if (!m || m[2] === undefined) return { url: connection.trim(), password: '' };
  const [, scheme, userinfo, rest] = m;
  const colon = userinfo!.indexOf(':');
  if (colon < 0) return { url: connection.trim(), password: '' };
  const user = userinfo!.slice(0, colon);
  const rawPass = userinfo!.slice(colon + 1);
  let password = rawPass;
  try {
    password = decodeURIComponent(rawPass);
  } catch {
    // Leave a malformed escape as typed; the server will say what is wrong with it.
  }
  if (password === '***') password = '';
  return { url: `${scheme}${user ? `${user}@` : ''}${rest}`, password };
}

/** Puts `password` (percent-encoded) into the URL's userinfo. An empty password leaves the URL as is. */
export function composeConnection(url: string, password: string): string {
  const trimmed = url.trim();
  if (!password) return trimmed;
  const m = URL_RE.exec(trimmed);
  if (!m) return trimmed;
  const [, scheme, userinfo, rest] = m;
  const user = userinfo === undefined ? '' : userinfo.split(':')[0]!;
  return `${scheme}${user}:${encodeURIComponent(password)}@${rest}`;
}

/** A message for obviously malformed input, so the user need not wait for the server; null if fine. */
export function checkConnectionUrl(url: string, engine: 'postgres' | 'mysql'): string | null {
  const t = url.trim();
  if (!t) return 'Enter a connection URL.';
  const schemes = engine === 'postgres' ? ['postgres://', 'postgresql://'] : ['mysql://', 'mariadb://'];
  if (!schemes.some((s) => t.toLowerCase().startsWith(s))) {
    return `A ${engine === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB'} URL starts with ${schemes.join(' or ')}`;
  }
  return null;
}

/**
 * The server's rules for a database name (domain/src/values.rs, `DatabaseName::parse`), checked
 * before sending so that every field's problem shows at once; null if fine. The server checks again.
 */
export function checkDatabaseName(name: string): string | null {
  const s = name.trim();
  if (!s) return 'Enter a name.';
  const n = [...s].length;
  if (n > 63) return `The name is ${n} characters long; at most 63 are allowed.`;
  if (!/^[A-Za-z0-9]/.test(s)) return 'The name must start with a letter or a digit.';
  const bad = [...s].find((c) => !/[A-Za-z0-9_.-]/.test(c));
  if (bad !== undefined) {
    const what = /\s/.test(bad) ? 'a space' : `“${bad}”`;
    return `The name may only contain letters, digits, “_”, “-” and “.”; it has ${what}.`;
  }
  return null;
}

export function exampleUrl(engine: 'postgres' | 'mysql'): string {
  return engine === 'postgres'
    ? 'postgres://backup_user@db.internal:5432/app?sslmode=require'
    : 'mysql://backup_user@db.internal:3306/app';
}
