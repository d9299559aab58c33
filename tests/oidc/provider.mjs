// A real OpenID provider for Backline's single sign-on test: the certified `oidc-provider`
// package, with one confidential client (PKCE required), its development login and consent
// pages, and the accounts the test gives.
//
// Environment: OIDC_PORT (listens on 127.0.0.1), OIDC_HOST (the issuer's host name, default
// 127.0.0.1), OIDC_REDIRECT_URI, OIDC_CLIENT_ID,
// OIDC_CLIENT_SECRET, OIDC_ACCOUNTS_FILE (JSON: {"<login>": {"name": "…", "groups": ["…"]}},
// read at each sign-in so that a test can change someone's groups).
// Prints "listening <issuer>" once it accepts connections.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`provider.mjs: ${name} is not set`);
    process.exit(2);
  }
  return v;
};

const port = Number(env('OIDC_PORT'));
// Another host name than Backline's 127.0.0.1 makes the redirects cross-site, as in real life.
const issuer = `http://${process.env.OIDC_HOST ?? '127.0.0.1'}:${port}`;
const accountsFile = env('OIDC_ACCOUNTS_FILE');

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env('OIDC_CLIENT_ID'),
      client_secret: env('OIDC_CLIENT_SECRET'),
      redirect_uris: [env('OIDC_REDIRECT_URI')],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'groups'],
    email: ['email'],
  },
  // The development login page accepts any password: who signs in is the login typed.
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['backline-oidc-test-cookie-key'] },
  async findAccount(ctx, id) {
    const account = JSON.parse(readFileSync(accountsFile, 'utf8'))[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: `sub-${id}`,
          preferred_username: id,
          name: account.name ?? id,
          email: `${id}@example.test`,
          groups: account.groups ?? [],
        };
      },
    };
  },
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
