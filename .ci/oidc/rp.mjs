// A relying party built with panva/openid-client (certified, from npm) that logs in through ena's test
// eID as an agency's e-service would: discovery, authorization code with PKCE, state and nonce, the
// token request with the client secret, the ID token's checks. The browser part (the test eID's person
// picker) is done with plain HTTP. Prints the ID token's claims as JSON; exits non-zero on any failure.
//
// usage: node rp.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI PERSON
import * as client from 'openid-client';

const [issuer, clientId, secret, redirectUri, person] = process.argv.slice(2);
const insecure = issuer.startsWith('http://') ? { execute: [client.allowInsecureRequests] } : {};
const config = await client.discovery(
  new URL(issuer), clientId, { client_secret: secret, id_token_signed_response_alg: 'ES256' }, undefined, insecure);
const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const authorize = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri, scope: 'openid profile', state, nonce,
  code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
});

// The person picker: a form of hidden fields plus the person.
const page = await fetch(authorize, { redirect: 'manual' });
if (page.status !== 200) throw new Error(`authorize page: ${page.status} ${await page.text()}`);
const html = await page.text();
const unescape = (v) => v.replace(/&#x2b;|&#43;/g, '+').replace(/&#x2f;|&#47;/g, '/').replace(/&#x3d;|&#61;/g, '=')
  .replace(/&quot;|&#34;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const form = new URLSearchParams();
for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) form.append(m[1], unescape(m[2]));
form.append('person', person);
const picked = await fetch(new URL('authorize', authorize.href.replace(/authorize.*$/, '')), {
  method: 'POST', body: form, redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
});
const back = picked.headers.get('location');
if (picked.status !== 303 || !back) throw new Error(`picking ${person}: ${picked.status} ${await picked.text()}`);

const tokens = await client.authorizationCodeGrant(config, new URL(back), {
  pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
});
console.log(JSON.stringify(tokens.claims()));
