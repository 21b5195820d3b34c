// A real OpenID Connect provider (panva/oidc-provider, OpenID Certified) for tests/test_oidc.py.
// Configured by the environment; listens on 127.0.0.1 at OIDC_PORT (0: any free port) and prints
// "listening <issuer>" once ready. Its one test user signs in and consents without a page, so the
// tests drive the authorisation code flow with plain HTTP.
//
//   OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI,
//   OIDC_USER  JSON claims of the test user, with its "sub"
import http from 'node:http';

import Provider from 'oidc-provider';

const env = process.env;
const user = JSON.parse(env.OIDC_USER || '{"sub": "user-1", "email": "user@example.org", "email_verified": true, "name": "Test User"}');

let provider;
const server = http.createServer(async (req, res) => {
  try {
    if (req.url.startsWith('/interaction/')) {
      await interact(req, res);
      return;
    }
    provider.callback()(req, res);
  } catch (error) {
    res.statusCode = 500;
    res.end(String(error));
  }
});

// The login and consent prompts, answered for the test user without a page.
async function interact(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

server.listen(Number(env.OIDC_PORT || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: env.OIDC_CLIENT_ID || 'medkarta',
        client_secret: env.OIDC_CLIENT_SECRET || 'medkarta-test-secret',
        redirect_uris: [env.OIDC_REDIRECT_URI || 'http://127.0.0.1:5000/auth/provider/test/callback'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    conformIdTokenClaims: false, // the ID token carries the claims of the scopes (the portal reads no userinfo)
    pkce: { required: () => true },
    cookies: { keys: ['medkarta-test-cookie-key'] },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    findAccount: (_ctx, sub) => (sub === user.sub ? { accountId: sub, claims: () => user } : undefined),
  });
  process.stdout.write(`listening ${issuer}\n`);
});
