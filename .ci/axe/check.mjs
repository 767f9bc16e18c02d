// Runs axe-core (WCAG 2.0/2.1 A and AA rules) in headless Debian Chromium against ena's portal pages.
// Usage: node check.mjs BASE_URL   — exits 1 if any page has a violation.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const base = process.argv[2] ?? 'http://127.0.0.1:8080';
// The test eID's person picker needs a well-formed authorization request from the portal's own client.
const testEid = '/test-eid/authorize?client_id=ena-portal&response_type=code&scope=openid&state=axe&nonce=axe'
  + `&redirect_uri=${encodeURIComponent(base + '/login/callback')}`
  + '&code_challenge_method=S256&code_challenge=' + 'A'.repeat(43);
const pages = ['/', '/?lang=en', '/byggblock', '/byggblock?lang=en', '/byggblock/mina-ombud', '/byggblock/identitet?lang=en', '/docs',
  '/anslutning', '/anslutning?lang=en', '/login', '/login?lang=en', testEid];
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
// The portal's CSP forbids every script; axe is injected by the test harness, not by the page.
const context = await browser.newContext({ bypassCSP: true });
let failed = 0;
for (const path of pages) {
  const page = await context.newPage();
  const response = await page.goto(base + path);
  if (!response || response.status() !== 200) {
    console.log(`FAIL ${path}: HTTP ${response?.status()}`);
    failed++;
    continue;
  }
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  if (result.violations.length) {
    failed++;
    console.log(`FAIL ${path}: ${result.violations.length} violation(s)`);
    for (const v of result.violations) {
      console.log(`  ${v.id} (${v.impact}): ${v.help}`);
      for (const n of v.nodes.slice(0, 3)) console.log(`    ${n.target.join(' ')}`);
    }
  } else {
    console.log(`ok   ${path}: ${result.passes.length} rules passed, 0 violations`);
  }
  await page.close();
}
await browser.close();
console.log(`axe: ${pages.length} pages checked, ${failed} with violations`);
process.exit(failed ? 1 : 0);
