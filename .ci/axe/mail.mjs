// Mina meddelanden end to end in headless Chromium, against `ena demo`: Skatteverket's system sends Tolvan
// letters through its node (local API, node token) carrying real XSS payloads in the subject, a Markdown
// body and a plain-text body — the node refuses a `javascript:` action URL by name — and the built-in
// mailbox takes them; Tolvan logs in with the test eID, finds them in Mina sidor → Mina meddelanden,
// opens each (no script runs, no dialog opens, no element from the payload exists), downloads the demo's
// decision attachment, replies to one letter (the sender's node gets the reply and the signed opening
// receipt), blocks a sender on the settings page (a signed change) and the next letter from
// that sender goes on paper. axe-core checks the inbox, a letter and the settings page in Swedish and
// English. Usage: node mail.mjs BASE_URL DEMO_DIR — exits 1 on any failure.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const [base, demoDir] = process.argv.slice(2);
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const fail = (why) => { console.log(`FAIL ${why}`); process.exitCode = 1; };
const TOLVAN = '191212121212';
const demo = JSON.parse(readFileSync(`${demoDir}/demo.json`, 'utf8'));
const skatt = demo.nodes.find((n) => n.entityId.startsWith('https://skatteverket.localhost:'));

async function send(letter) {
  const r = await fetch(`${skatt.api}/mail/v1/outbox`, {
    method: 'POST', headers: { authorization: `Bearer ${skatt.token}`, 'content-type': 'application/json' }, body: JSON.stringify(letter),
  });
  return { status: r.status, body: await r.json() };
}
async function until(what, check) {
  for (let i = 0; i < 100; i++) { if (await check()) return true; await new Promise((r) => setTimeout(r, 100)); }
  fail(what); return false;
}

const stamp = Date.now();
const payloads = [
  '<script>window.__xss = 1</script>', '<img src=x onerror="window.__xss = 2">', '<svg/onload=window.__xss=3>',
  '"><iframe src="javascript:window.__xss=4">', '[klicka](javascript:window.__xss=5)', '[x](https://a.se" onmouseover="window.__xss=6)',
];
const subject = `XSS ${stamp} <img src=x onerror="window.__xss=7">`;
const markdown = await send({ mail: { recipient: TOLVAN, subject, bodyFormat: 'markdown', replyAllowed: true, receipt: 'signed',
  body: `# Rubrik <script>window.__xss=8</script>\n\n**fet** ${payloads.join('\n\n')}\n\n- ${payloads[1]}` } });
const plain = await send({ mail: { recipient: TOLVAN, subject: `Text ${stamp}`, body: payloads.join('\n') } });
for (const [what, r] of [['markdown', markdown], ['plain', plain]]) {
  if (r.status !== 201 || r.body.status === 'paper') fail(`sending the ${what} letter: ${r.status} ${JSON.stringify(r.body)}`);
}
const refused = await send({ mail: { recipient: TOLVAN, subject: 'x', body: 'x',
  documents: [{ title: 'x', actions: [{ kind: 'pay', title: 'Betala', url: 'javascript:window.__xss=9' }] }] } });
if (refused.status !== 400 || !JSON.stringify(refused.body).includes('mail/documents/0/actions/0/url')) {
  fail(`a javascript: action URL was not refused by name: ${refused.status} ${JSON.stringify(refused.body)}`);
} else console.log('ok   the node refuses a javascript: action URL, naming mail/documents/0/actions/0/url');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ bypassCSP: true });
const page = await context.newPage();
let dialogs = 0;
page.on('dialog', async (d) => { dialogs += 1; await d.dismiss(); });
await page.goto(`${base}/login?loa=3&return=%2Fmina-sidor`);
await page.click('a[href*="provider=test-eid"]');
await page.check(`#p-${TOLVAN}`);
await Promise.all([page.waitForURL('**/mina-sidor'), page.click('button[type=submit]')]);

async function axe(label) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  if (result.violations.length) {
    fail(`${label}: ${result.violations.length} axe violation(s)`);
    for (const v of result.violations) console.log(`  ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  } else console.log(`ok   axe ${label}: ${result.passes.length} rules passed`);
}
async function inert(label) {
  const state = await page.evaluate(() => ({
    // eslint-disable-next-line no-undef
    xss: window.__xss ?? null,
    injected: document.querySelectorAll('#body script, #body img, #body svg, #body iframe, [onerror], [onload], [onmouseover]').length,
    links: [...document.querySelectorAll('#body a')].map((a) => a.getAttribute('href')),
  }));
  if (state.xss !== null || state.injected > 0 || dialogs > 0) fail(`${label}: the payload ran or became markup ${JSON.stringify(state)}, dialogs ${dialogs}`);
  else if (state.links.some((h) => !/^(https:|mailto:)/.test(h))) fail(`${label}: a link that is not https: ${state.links}`);
  else console.log(`ok   ${label}: every payload shown as text, nothing ran`);
}

// The hub links Mina meddelanden; the letters arrive (the mailbox takes them once a second).
await Promise.all([page.waitForURL('**/mina-sidor/meddelanden'), page.click('a[href="/mina-sidor/meddelanden"]')]);
await until('the XSS letters in the inbox', async () => {
  await page.goto(`${base}/mina-sidor/meddelanden`);
  return (await page.locator('#messages a', { hasText: `Text ${stamp}` }).count()) > 0
    && (await page.locator('#messages a', { hasText: `XSS ${stamp}` }).count()) > 0;
});
await inert('the inbox');
await axe('/mina-sidor/meddelanden');
await page.click(`#messages a:has-text("XSS ${stamp}")`);
await page.waitForURL('**/mina-sidor/meddelanden/*');
await inert('the Markdown letter');
const heading = await page.textContent('#body h3');
if (!heading?.includes('<script>')) fail(`the heading's script should show as text: ${heading}`);
await axe('/mina-sidor/meddelanden/{id} (Markdown)');

// Tolvan replies from the letter page (a plain form, no script), with a payload of his own; the reply
// shows as text, and Skatteverket's node gets it with the operator's signed receipt of the opening.
await page.fill('#reply-body', `Tack! ${payloads[1]}`);
await Promise.all([page.waitForURL('**/mina-sidor/meddelanden/*?svar=1'), page.click('form:has(#reply-body) button[type=submit]')]);
await inert('the letter with its reply');
const shown = await page.textContent('#replies');
if (!shown?.includes('onerror')) fail(`the reply should show as text: ${shown}`);
await axe('/mina-sidor/meddelanden/{id} (replied)');
const letterUrl = `${skatt.api}/mail/v1/outbox/${markdown.body.id}`;
let back = {};
if (await until('the receipt and the reply at Skatteverket\'s node', async () => {
  back = await (await fetch(letterUrl, { headers: { authorization: `Bearer ${skatt.token}` } })).json();
  return back.receipts?.some((r) => r.kind === 'opened') && back.replies?.length === 1;
})) {
  if (!back.replies[0].body.startsWith('Tack!')) fail(`the reply at the sender: ${JSON.stringify(back.replies)}`);
  else console.log(`ok   reply and signed opening receipt (${back.receipts[0].at}) reached Skatteverket's node`);
}
await page.goto(`${base}/mina-sidor/meddelanden`);
await page.click(`#messages a:has-text("Text ${stamp}")`);
await page.waitForURL('**/mina-sidor/meddelanden/*');
await inert('the plain-text letter');

// The demo's decision, with its attachment.
await page.goto(`${base}/mina-sidor/meddelanden?lang=en`);
await axe('/mina-sidor/meddelanden?lang=en');
await page.click('#messages a:has-text("Beslut om slutlig skatt 2025")');
await page.waitForURL('**/mina-sidor/meddelanden/*');
const href = await page.getAttribute('#attachments a', 'href');
const file = await page.request.get(`${base}${href}`);
const text = await file.text();
if (file.status() !== 200 || !text.includes('Slutlig skatt')) fail(`the attachment: ${file.status()} ${text.slice(0, 80)}`);
else console.log('ok   the decision\'s attachment streams from the mailbox node, decrypted');
await axe('/mina-sidor/meddelanden/{id} (attachment, pay action)');

// Who holds data about me (the index), from the hub.
await page.goto(`${base}/mina-sidor`);
await Promise.all([page.waitForURL('**/mina-sidor/uppgifter'), page.click('a[href="/mina-sidor/uppgifter"]')]);
const held = await page.textContent('#holdings');
if (!held?.includes('se.skatteverket.inkomst') || !held?.includes('se.forsakringskassan.ersattning')) fail(`who holds data about me: ${held}`);
else console.log('ok   who holds data about me lists the demo agencies\' engagements');
await axe('/mina-sidor/uppgifter');
await page.goto(`${base}/mina-sidor/uppgifter?lang=en`);
await axe('/mina-sidor/uppgifter?lang=en');
// Who read my data: the demo's letters to Tolvan were delivered, and Försäkringskassan looked him up
// in the index, so the log names him.
await page.goto(`${base}/mina-sidor`);
await Promise.all([page.waitForURL('**/mina-sidor/atkomst'), page.click('a[href="/mina-sidor/atkomst"]')]);
const accesses = await page.textContent('#accesses');
if (!accesses?.includes('mail.message.deliver') || !accesses?.includes('index.find')) fail(`who read my data: ${accesses?.slice(0, 300)}`);
else console.log('ok   who read my data lists the mailbox\'s deliveries and Försäkringskassan\'s index look-up');
await axe('/mina-sidor/atkomst');
if (!accesses?.includes('profile.consent.use')) fail(`who read my data lacks the demo's income call under consent: ${accesses?.slice(0, 300)}`);
else console.log('ok   who read my data shows Skatteverket giving income data to Exempelkommunen under Tolvan\'s consent');
// The nodes' own logs: Skatteverket's node sent Försäkringskassan an income statement about Tolvan and
// both nodes hand their log entries about him over to the central log (every two seconds).
let fromNodes = '';
for (let i = 0; i < 15 && !(fromNodes.includes('messages.queued') && fromNodes.includes('messages.received')); i++) {
  if (i > 0) await new Promise((r) => setTimeout(r, 1000));
  await page.goto(`${base}/mina-sidor/atkomst`);
  fromNodes = (await page.textContent('#accesses')) ?? '';
}
if (!fromNodes.includes('messages.queued') || !fromNodes.includes('messages.received') || !fromNodes.includes('loggat av')) fail(`who read my data lacks the nodes' message events: ${fromNodes.slice(0, 400)}`);
else console.log('ok   who read my data shows the income statement Skatteverket\'s node sent and Försäkringskassan\'s received, from the nodes\' own logs');

// Min profil: the demo's consent with its receipt; a contact added and confirmed with the code (the demo
// has no e-mail sender, so the test installation shows the code); withdraw the consent.
await page.goto(`${base}/mina-sidor`);
await Promise.all([page.waitForURL('**/mina-sidor/profil'), page.click('a[href="/mina-sidor/profil"]')]);
await axe('/mina-sidor/profil');
const consents = await page.textContent('#consents');
if (!consents?.includes('se.skatteverket.inkomst')) fail(`Min profil lacks the demo's consent: ${consents}`);
const receiptHref = await page.getAttribute('#consents a', 'href');
const receiptFile = await page.request.get(`${base}${receiptHref}`);
const jws = await receiptFile.text();
if (receiptFile.status() !== 200 || jws.split('.').length !== 3) fail(`the consent receipt: ${receiptFile.status()} ${jws.slice(0, 80)}`);
else console.log('ok   Min profil lists the demo consent and its signed receipt downloads');
await page.fill('#address', `tolvan.${stamp}@example.se`);
await page.click('#add-contact button[type=submit]');
const codeNote = await page.textContent('#message');
const code = codeNote?.match(/(\d{6})/)?.[1];
if (!code) fail(`no code shown on the test installation: ${codeNote}`);
await page.fill('#contacts input[name=code]', code ?? '');
await Promise.all([page.waitForURL('**/mina-sidor/profil?done=1'), page.click('#contacts form:has(input[value=verify]) button[type=submit]')]);
if ((await page.locator('#contacts td', { hasText: 'Bekräftad' }).count()) === 0) fail('the contact is not confirmed');
else console.log('ok   a contact added and confirmed with its code, without JavaScript');
await Promise.all([page.waitForURL('**/mina-sidor/profil?done=1'), page.click('#consents form:has(input[value=withdraw]) button[type=submit]')]);
if ((await page.locator('#consents td', { hasText: 'Återkallat' }).count()) === 0) fail('the consent is not withdrawn');
else console.log('ok   the consent withdrawn from Min profil');
await page.goto(`${base}/mina-sidor/profil?lang=en`);
await axe('/mina-sidor/profil?lang=en');

// Settings: block Skatteverket (a signed change); its next letter goes on paper.
await page.goto(`${base}/mina-sidor/meddelanden/installningar`);
await axe('/mina-sidor/meddelanden/installningar');
await page.fill('#sender-1', '202100-5448');
await Promise.all([page.waitForURL('**/installningar?done=1'), page.click('form:has(#sender-1) button[type=submit]')]);
if ((await page.locator('li', { hasText: '202100-5448' }).count()) === 0) fail('the blocked sender is not listed');
const after = await send({ mail: { recipient: TOLVAN, subject: `Efter spärr ${stamp}`, body: 'x' } });
if (after.body.status !== 'paper' || after.body.paper !== 'sender-blocked') fail(`after blocking: ${JSON.stringify(after.body)}`);
else console.log('ok   blocked on the settings page; the next letter from that sender is on paper (sender-blocked)');
await page.click('form:has(input[value="unblock"]) button[type=submit]');
await page.goto(`${base}/mina-sidor/meddelanden/installningar?lang=en`);
await axe('/mina-sidor/meddelanden/installningar?lang=en');

await browser.close();
if (!process.exitCode) console.log('mail: letters, XSS payloads, attachment and settings passed in Chromium');
