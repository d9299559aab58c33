// Signs in to Backline through its OpenID provider with headless Chromium, as a person would:
// opens Backline's /api/v1/oidc/login, types the login at the provider's page, consents, and
// follows the redirects back. Prints one JSON line: the final status and URL, the page's text,
// what GET /api/v1/session answers from that page, and Backline's session cookie.
//
// Usage: node signin.mjs <backline base URL> <login>
import { chromium } from 'playwright-core';

const [base, login] = process.argv.slice(2);
if (!base || !login) {
  console.error('usage: node signin.mjs <backline base URL> <login>');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/api/v1/oidc/login`);
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any password');
  const back = page.waitForResponse((r) => r.url().startsWith(`${base}/api/v1/oidc/callback`), {
    timeout: 60_000,
  });
  await page.click('button[type="submit"]');
  // The consent page (when the provider asks); its Continue sends the browser back to Backline.
  const consent = page
    .waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached', timeout: 60_000 })
    .then(() => 'consent')
    .catch(() => 'none');
  if ((await Promise.race([back.then(() => 'back'), consent])) === 'consent') {
    await page.click('button[type="submit"]');
  }
  const callback = await back;
  await page.waitForLoadState('load');
  const session = await page.evaluate(async () => {
    const r = await fetch('/api/v1/session');
    return { status: r.status, body: await r.json().catch(() => null) };
  });
  const cookies = await context.cookies(base);
  const cookie = cookies.find((c) => c.name === 'backline_session');
  console.log(
    JSON.stringify({
      callback_status: callback.status(),
      url: page.url(),
      text: (await page.textContent('body')) ?? '',
      session,
      cookie: cookie ? { value: cookie.value, httpOnly: cookie.httpOnly, sameSite: cookie.sameSite } : null,
    }),
  );
} finally {
  await browser.close();
}
