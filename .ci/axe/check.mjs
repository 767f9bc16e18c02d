// Runs axe-core (WCAG 2.0/2.1 A and AA rules) in headless Debian Chromium against ena's portal pages.
// Usage: node check.mjs BASE_URL   — exits 1 if any page has a violation. With ENA_OPERATOR_TOKEN set
// (the server's operator.token), the operator's /anslutning page is checked as the operator sees it too:
// logged in with the token, listing a pending and a rejected application the script files first.
import { chromium } from 'playwright-core';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const base = process.argv[2] ?? 'http://127.0.0.1:8080';
// The test eID's person picker needs a well-formed authorization request from the portal's own client.
const testEid = '/test-eid/authorize?client_id=ena-portal&response_type=code&scope=openid&state=axe&nonce=axe'
  + `&redirect_uri=${encodeURIComponent(base + '/login/callback')}`
  + '&code_challenge_method=S256&code_challenge=' + 'A'.repeat(43);
const pages = ['/', '/?lang=en', '/byggblock', '/byggblock?lang=en', '/byggblock/mina-ombud', '/byggblock/identitet?lang=en', '/docs',
  '/anslutning', '/anslutning?lang=en', '/api-katalog', '/api-katalog?lang=en', '/login', '/login?lang=en', testEid];
// ena serve puts its own APIs in the catalog in the background at start: wait for them (at most 30 s),
// then check an API's page, a version's page and its rendered reference too.
for (let i = 0; i < 60; i++) {
  const r = await fetch(`${base}/apis/v1/apis/ena-apis`);
  if (r.ok) break;
  await new Promise((done) => setTimeout(done, 500));
}
const own = await (await fetch(`${base}/apis/v1/apis/ena-apis`)).json();
if (!own.published) throw new Error('ena-apis is not published in the catalog');
pages.push('/api-katalog/ena-apis', '/api-katalog/ena-apis?lang=en', `/api-katalog/ena-apis/${own.published}`,
  `/api-katalog/ena-apis/${own.published}?lang=en`, `/api-katalog/ena-apis/${own.published}/docs`);
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
// The portal's CSP forbids every script; axe is injected by the test harness, not by the page.
const context = await browser.newContext({ bypassCSP: true });
let failed = 0;
let checked = 0;

// Run axe on the page as it stands; report and count its violations.
async function axeCheck(page, label) {
  checked++;
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  if (result.violations.length) {
    failed++;
    console.log(`FAIL ${label}: ${result.violations.length} violation(s)`);
    for (const v of result.violations) {
      console.log(`  ${v.id} (${v.impact}): ${v.help}`);
      for (const n of v.nodes.slice(0, 3)) console.log(`    ${n.target.join(' ')}`);
    }
  } else {
    console.log(`ok   ${label}: ${result.passes.length} rules passed, 0 violations`);
  }
}

for (const path of pages) {
  const page = await context.newPage();
  const response = await page.goto(base + path);
  if (!response || response.status() !== 200) {
    console.log(`FAIL ${path}: HTTP ${response?.status()}`);
    failed++;
    continue;
  }
  await axeCheck(page, path);
  await page.close();
}

// An application as a member's software files it: only a public key is needed (the key request and the
// entity configuration are optional), made here with Node's own crypto.
async function apply(host, agreement) {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const body = {
    organisationNumber: '212000-0142', name: `Axe ${host}`, contact: `federation@${host}`,
    entityId: `https://${host}`, jwks: { keys: [{ ...jwk, kid: `${host}-1` }] }, entityTypes: ['ena_node'],
    trustMarks: [], acceptAgreement: agreement,
  };
  const r = await fetch(`${base}/federation/v1/applications`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (r.status !== 201) throw new Error(`applying for ${host}: HTTP ${r.status} ${await r.text()}`);
  return (await r.json()).id;
}

const token = process.env.ENA_OPERATOR_TOKEN?.trim();
if (token) {
  // A pending application (with its decision form) and a rejected one (with its decision, reason and
  // decider), so every part of the operator's view is on the page axe sees.
  const agreement = (await (await fetch(`${base}/federation/v1/agreement`)).json()).version;
  await apply('axe-pending.example.se', agreement);
  const rejected = await apply('axe-rejected.example.se', agreement);
  const r = await fetch(`${base}/federation/v1/applications/${rejected}/reject`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ reason: 'Checked by axe' }),
  });
  if (r.status !== 200) throw new Error(`rejecting: HTTP ${r.status} ${await r.text()}`);
  for (const lang of ['', '?lang=en']) {
    const label = `/anslutning${lang} (operator, all applications)`;
    const page = await context.newPage();
    await page.goto(`${base}/anslutning${lang}`);
    await page.fill('#token', token);
    await page.selectOption('#status', 'all');
    const [response] = await Promise.all([page.waitForNavigation(), page.click('form button[type=submit]')]);
    const listed = await page.locator('article.card').count();
    if (!response || response.status() !== 200 || listed < 2) {
      console.log(`FAIL ${label}: HTTP ${response?.status()}, ${listed} application(s) listed`);
      failed++;
    } else {
      await axeCheck(page, label);
    }
    await page.close();
  }
} else {
  console.log('note: ENA_OPERATOR_TOKEN is not set, so the operator\'s view of /anslutning was not checked');
}
await browser.close();
console.log(`axe: ${checked} pages checked, ${failed} failed`);
process.exit(failed ? 1 : 0);
