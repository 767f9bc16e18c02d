// Mina ärenden end to end in headless Chromium, against `ena demo`: an agency (Skatteverket's node, by
// its own certificate) creates a case for Tolvan and one for Andersson & Berg HB and posts a decision
// on each; Tolvan and Anna (the company's signatory) log in with the test eID, find the case in Mina
// sidor → Mina ärenden, open it, and the seen-log shows who opened it; the agency sees the same
// seen-log over its API. axe-core checks the hub, the list and the case page, in Swedish and English.
// Usage: node cases.mjs BASE_URL NODE_LISTENER_URL DEMO_DIR — exits 1 on any failure.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createRequire } from 'node:module';

const [base, nodeUrl, demoDir] = process.argv.slice(2);
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const fail = (why) => { console.log(`FAIL ${why}`); process.exitCode = 1; };
const TOLVAN = '191212121212', ANNA = '199001012385';

// The agency's own software: HTTPS with the node's certificate, to the central node listener.
const skatt = `${demoDir}/skatteverket.localhost`;
const tls = { ca: readFileSync(`${skatt}/ca.crt`), cert: readFileSync(`${skatt}/tls.crt`), key: readFileSync(`${skatt}/tls.key`) };
function agency(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request(`${nodeUrl}${path}`, { method, ...tls, servername: 'localhost',
      headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    if (body) req.write(JSON.stringify(body));
    req.end();
  });
}

const stamp = Date.now();
async function caseWithDecision(party, service, title) {
  const created = await agency('POST', '/cases/v1/cases', {
    party, service, status: 'in-progress', title: { sv: title, en: `${title} (en)` }, idempotencyKey: `browser-${service}-${stamp}`,
    expectedDecision: { at: new Date(Date.now() + 30 * 86400e3).toISOString().replace(/\.\d+Z$/, 'Z'), reason: 'Handläggningstiden är fyra veckor.' },
  });
  if (created.status !== 201) { fail(`create ${title}: ${created.status} ${JSON.stringify(created.body)}`); return null; }
  const decision = await agency('POST', `/cases/v1/cases/${created.body.id}/transmissions`, { kind: 'decision', title: { sv: `Beslut: ${title}` } });
  if (decision.status !== 201) fail(`decision on ${title}: ${decision.status}`);
  console.log(`ok   the agency created "${title}" and posted its decision`);
  return created.body.id;
}
const mine = await caseWithDecision({ kind: 'person', id: TOLVAN }, 'skatteverket/skattekonto', `Återbetalning av skatt ${stamp}`);
const company = await caseWithDecision({ kind: 'organisation', id: '556011-2236' }, 'skatteverket/moms', `Momsbeslut ${stamp}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function loggedIn(person) {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${base}/login?loa=3&return=%2Fmina-sidor`);
  await page.click('a[href*="provider=test-eid"]');
  await page.check(`#p-${person}`);
  await Promise.all([page.waitForURL('**/mina-sidor'), page.click('button[type=submit]')]);
  return page;
}

async function axe(page, label) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  if (result.violations.length) {
    fail(`${label}: ${result.violations.length} axe violation(s)`);
    for (const v of result.violations) console.log(`  ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  } else {
    console.log(`ok   axe ${label}: ${result.passes.length} rules passed`);
  }
}

// Tolvan: the hub, then Mina ärenden, then the case.
const tolvan = await loggedIn(TOLVAN);
await axe(tolvan, '/mina-sidor (hub)');
await Promise.all([tolvan.waitForURL('**/mina-sidor/arenden'), tolvan.click('a[href="/mina-sidor/arenden"]')]);
await axe(tolvan, '/mina-sidor/arenden');
const list = await tolvan.textContent('#cases');
if (!list.includes(`Återbetalning av skatt ${stamp}`)) fail(`Tolvan does not see his case: ${list}`);
else console.log('ok   Tolvan sees his case in Mina ärenden');
await Promise.all([tolvan.waitForURL(`**/mina-sidor/arenden/${mine}`), tolvan.click(`a[href="/mina-sidor/arenden/${mine}"]`)]);
await axe(tolvan, '/mina-sidor/arenden/{id}');
if (!(await tolvan.textContent('#transmissions')).includes('Beslut:')) fail('Tolvan does not see the decision');
if (!(await tolvan.textContent('#seen-log')).includes('19121212-****')) fail('the seen-log does not show Tolvan');
else console.log('ok   Tolvan opened it; the seen-log shows him');
await tolvan.goto(`${base}/mina-sidor/arenden?lang=en`);
await axe(tolvan, '/mina-sidor/arenden?lang=en');
// Bulk: archive the case; the archive filter then shows it.
await tolvan.check(`#sel-${mine}`);
await tolvan.selectOption('#action', 'archive');
await Promise.all([tolvan.waitForURL('**done=1**'), tolvan.click('fieldset button[type=submit]')]);
await tolvan.goto(`${base}/mina-sidor/arenden?label=archive`);
if (!(await tolvan.textContent('#cases')).includes(`Återbetalning av skatt ${stamp}`)) fail('the archived case is not under archive');
else console.log('ok   Tolvan archived it (bulk form, no JavaScript)');

// Anna acts for the company by her register role: she sees and opens its case.
const anna = await loggedIn(ANNA);
await anna.goto(`${base}/mina-sidor/arenden`);
const hers = await anna.textContent('#cases');
if (!hers.includes(`Momsbeslut ${stamp}`) || !hers.includes('Andersson & Berg')) fail(`Anna does not see the company's case: ${hers}`);
else console.log("ok   Anna sees the company's case beside her own");
await anna.goto(`${base}/mina-sidor/arenden/${company}`);
const seen = await anna.textContent('#seen-log');
if (!seen.includes('19900101-****') || !seen.includes('5560112236')) fail(`the seen-log does not show Anna for the company: ${seen}`);
else console.log('ok   Anna opened it; the seen-log shows her as representative');

// The agency sees who opened its case.
const history = await agency('GET', `/cases/v1/cases/${company}/history`);
if (history.status !== 200 || history.body.seen.length !== 1) fail(`the agency's history: ${JSON.stringify(history.body)}`);
else console.log("ok   the agency's history shows the seen-log");

await browser.close();
console.log(process.exitCode ? 'cases: FAILED' : 'cases: the agency–person–representative scenario passed in Chromium');
