// A certified OpenID provider (panva/node-oidc-provider) for ena's relying-party interop test.
// Usage: node op.mjs PORT REDIRECT_URI [CLIENT_ID JWKS_JSON] — prints "ready" when listening. Without the
// last two, the client is `ena` with a secret (client_secret_post); with them, the client CLIENT_ID
// authenticates with private_key_jwt using the public keys JWKS_JSON (as ena's portal does with a
// provider it finds through the federation). The end user's interaction is
// automated (a fixed test person at LoA 3); everything else is the library's own protocol handling.
import Provider from 'oidc-provider';

const [port, redirectUri, clientId, jwks] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const PNR = 'https://id.oidc.se/claim/personalIdentityNumber';
const LOA3 = 'http://id.elegnamnden.se/loa/1.0/loa3';

const provider = new Provider(issuer, {
  clients: [clientId ? {
    client_id: clientId,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: JSON.parse(jwks),
  } : {
    client_id: 'ena',
    client_secret: 'interop-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  acrValues: [LOA3],
  claims: { openid: ['sub'], profile: ['name', 'given_name', 'family_name', PNR] },
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: 'Tolvan Tolvansson', given_name: 'Tolvan', family_name: 'Tolvansson', [PNR]: id };
      },
    };
  },
});
provider.proxy = false;

// Automated end-user interaction: log in the test person and grant what was asked.
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path.startsWith('/interaction/')) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const accountId = '191212121212';
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope(String(details.params.scope));
    const grantId = await grant.save();
    await provider.interactionFinished(ctx.req, ctx.res, {
      login: { accountId, acr: LOA3 },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
    return;
  }
  await next();
});

provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
