// Mina ombud end to end in headless Chromium, as people use it: each person logs in with the test eID
// (clicking through the provider's page), a joint-signing company's first signatory grants a mandate,
// the second approves it, and the agent sees it in force. axe-core checks the Mina ombud page of a
// logged-in person on the way. Usage: node ombud.mjs BASE_URL — exits 1 on any failure.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const base = process.argv[2] ?? 'http://127.0.0.1:8080';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const fail = (why) => { console.log(`FAIL ${why}`); process.exitCode = 1; };
const ANNA = '199001012385', BERTIL = '198506151235', DAVID = '200107044562', HB = '165560112236';

// A fresh browser context per person: their own cookie jar, as on their own computer.
async function loggedIn(person) {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${base}/login?loa=3&return=%2Fmina-sidor%2Fombud`);
  await page.click('a[href*="provider=test-eid"]');
  await page.check(`#p-${person}`);
  await Promise.all([page.waitForURL('**/mina-sidor/ombud**'), page.click('button[type=submit]')]);
  return { context, page };
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

// Anna switches to the company, grants David "Anställda och arbetsgivaravgifter"; it waits for Bertil.
const anna = await loggedIn(ANNA);
await axe(anna.page, '/mina-sidor/ombud (Anna)');
await anna.page.selectOption('#party', HB);
await Promise.all([anna.page.waitForURL(`**party=${HB}**`), anna.page.click('form[method=get] button')]);
await anna.page.fill('#agent', DAVID);
await anna.page.check('#pkg-anstallda-och-arbetsgivaravgifter');
await anna.page.fill('#valid_to', '2030-12-31');
await Promise.all([anna.page.waitForURL('**done=1**'), anna.page.click('form[action^="/mina-sidor/ombud/grant"] button')]);
const granted = await anna.page.textContent('table');
if (!granted.includes('pending (1/2)')) fail(`Anna's grant is not waiting for a second signature: ${granted}`);
else console.log('ok   Anna granted; waiting for the second signatory');
await axe(anna.page, '/mina-sidor/ombud?party=company (Anna)');

// Bertil approves as the second signatory.
const bertil = await loggedIn(BERTIL);
await bertil.page.goto(`${base}/mina-sidor/ombud?party=${HB}`);
const approve = bertil.page.locator('form[action*="/approve"] button');
if (await approve.count() !== 1) fail('Bertil sees no approve button');
else {
  await Promise.all([bertil.page.waitForURL('**done=1**'), approve.click()]);
  const after = await bertil.page.textContent('table');
  if (!after.includes('active')) fail(`not active after Bertil's approval: ${after}`);
  else console.log('ok   Bertil approved; the mandate is active');
}

// David, the agent, sees it in force, can act for the company, and can read why.
const david = await loggedIn(DAVID);
const received = await david.page.locator('table').nth(1).textContent();
if (!received.includes('Andersson & Berg') || !received.includes('active')) fail(`David does not see it in force: ${received}`);
else console.log('ok   David sees the mandate in force');
const why = await david.page.locator('table').nth(1).locator('details').first().textContent();
if (!why.includes('2 of 2')) fail(`the why does not show the signatures: ${why}`);
await david.page.goto(`${base}/mina-sidor/ombud?lang=en`);
await axe(david.page, '/mina-sidor/ombud?lang=en (David)');
// David is the CEO of Styrelsebolaget: API management's subscriptions page lists it for him (it is not a
// member of the federation, which the page says).
await david.page.goto(`${base}/api-katalog/ena-apis/prenumerationer?lang=en`);
const subs = await david.page.textContent('main');
if (!subs.includes('Styrelsebolaget') || !subs.includes('not a member')) fail(`the subscriptions page: ${subs}`);
else console.log('ok   David sees the organisation he may subscribe for');
await axe(david.page, '/api-katalog/ena-apis/prenumerationer?lang=en (David)');

await browser.close();
console.log(process.exitCode ? 'ombud: FAILED' : 'ombud: the grant–approve–use scenario passed in Chromium');
