// A real OpenID Connect provider for grantd's tests: panva's oidc-provider
// (OpenID certified), configured to look like an Amazon Cognito user pool.
//
//   node server.mjs --client-id ID --client-secret SECRET --redirect-uri URI [--redirect-uri URI]...
//                   [--port N] [--exit-with-stdin]
//
// (or UPSTREAM_CLIENT_ID, UPSTREAM_CLIENT_SECRET, UPSTREAM_REDIRECT_URIS
// separated by spaces, UPSTREAM_PORT). It listens on 127.0.0.1 (port 0, the
// default: one the system picks), prints its issuer URL as the first line on
// stdout when it is ready, and exits on SIGTERM or SIGINT, and with
// --exit-with-stdin also when its standard input closes, so that a test
// process that dies leaves no server behind.
//
// What it shares with a Cognito user pool:
//   - an issuer with a path (…/us-east-1_grantdTest), the endpoints under
//     Cognito's paths (/oauth2/authorize, /oauth2/token, /oauth2/revoke,
//     /oauth2/userInfo, /.well-known/jwks.json);
//   - RS256, one key for ID tokens (kid "id") and another for access tokens
//     (kid "access");
//   - ID tokens with cognito:username, email, email_verified and token_use "id";
//   - JWT access tokens with token_use "access", client_id, username and
//     scope, and no aud;
//   - a refresh token with every code exchange, never rotated: a refresh
//     answers with new ID and access tokens and no refresh_token;
//   - a revocation endpoint (revoking a refresh token revokes its grant);
//   - PKCE required, S256 only; response_type code only; client_secret_basic;
//     redirect_uri required at the token endpoint;
//   - no consent page: a signed-in user goes straight back to the client.
// The users are fixed (see USERS); the sign-in page is a plain HTML form with
// labelled Username and Password fields, a "Sign in" and a "Cancel" button.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const POOL_PATH = '/us-east-1_grantdTest';
const RESOURCE = 'urn:grantd-test:userpool';
const SCOPES = ['openid', 'email', 'profile', 'phone', 'aws.cognito.signin.user.admin'];

// The user pool. Subjects are fixed so tests can compare them.
const USERS = [
  {
    username: 'alice', password: 'alice-password-1', sub: '4c1d9a2e-6b0f-4f3e-9a57-0a1b2c3d4e01',
    email: 'alice@example.com', email_verified: true,
  },
  {
    username: 'bob', password: 'bob-password-2', sub: '7e2f0b4c-1d3a-4b5c-8e6f-0a1b2c3d4e02',
    email: 'bob@example.com', email_verified: false,
  },
  {
    username: 'carol', password: 'carol-password-3', sub: '9a3b1c5d-2e4f-4a6b-8c7d-0a1b2c3d4e03',
  },
];

function settings() {
  const { values } = parseArgs({
    options: {
      'client-id': { type: 'string', default: process.env.UPSTREAM_CLIENT_ID },
      'client-secret': { type: 'string', default: process.env.UPSTREAM_CLIENT_SECRET },
      'redirect-uri': { type: 'string', multiple: true },
      port: { type: 'string', default: process.env.UPSTREAM_PORT ?? '0' },
      'exit-with-stdin': { type: 'boolean', default: false },
    },
  });
  const redirectURIs = values['redirect-uri']
    ?? (process.env.UPSTREAM_REDIRECT_URIS ?? '').split(' ').filter(Boolean);
  if (!values['client-id'] || !values['client-secret'] || redirectURIs.length === 0) {
    console.error('usage: node server.mjs --client-id ID --client-secret SECRET --redirect-uri URI [--redirect-uri URI]... [--port N]');
    process.exit(2);
  }
  return {
    clientID: values['client-id'],
    clientSecret: values['client-secret'],
    redirectURIs,
    port: Number(values.port),
    exitWithStdin: values['exit-with-stdin'],
  };
}

function signingKey(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

function b64url(v) {
  return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
}

// cognitoAccessToken re-signs oidc-provider's JWT access token without aud.
// oidc-provider refuses to mint a JWT access token without an audience
// (RFC 9068 requires one); Cognito's have none.
function cognitoAccessToken(jwt, accessKey, privateKey) {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));
  delete payload.aud;
  const input = `${b64url({ kid: accessKey.kid, alg: 'RS256' })}.${b64url(payload)}`;
  const signature = sign('sha256', Buffer.from(input), privateKey).toString('base64url');
  return `${input}.${signature}`;
}

function findUser(sub) {
  return USERS.find((u) => u.sub === sub);
}

function configuration(s, keys) {
  return {
    clients: [{
      client_id: s.clientID,
      client_secret: s.clientSecret,
      redirect_uris: s.redirectURIs,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    routes: {
      authorization: '/oauth2/authorize',
      token: '/oauth2/token',
      revocation: '/oauth2/revoke',
      userinfo: '/oauth2/userInfo',
      jwks: '/.well-known/jwks.json',
    },
    scopes: SCOPES,
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    allowOmittingSingleRegisteredRedirectUri: false,
    pkce: { required: () => true },
    conformIdTokenClaims: false, // the ID token carries the claims, as Cognito's does
    claims: {
      openid: ['sub', 'cognito:username', 'token_use'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username'],
    },
    async findAccount(ctx, sub) {
      const user = findUser(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims(use) {
          return {
            sub,
            'cognito:username': user.username,
            token_use: use === 'id_token' ? 'id' : undefined,
            email: user.email,
            email_verified: user.email ? user.email_verified : undefined,
          };
        },
      };
    },
    features: {
      devInteractions: { enabled: false },
      dPoP: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: SCOPES.join(' '),
            audience: RESOURCE, // removed again by cognitoAccessToken
            accessTokenTTL: 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256', kid: 'access' } },
          };
        },
      },
    },
    formats: {
      customizers: {
        jwt(ctx, token, jwt) {
          jwt.payload.token_use = 'access';
          jwt.payload.username = findUser(token.accountId)?.username;
        },
      },
    },
    issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => false,
    expiresWithSession: () => false,
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 300,
      IdToken: 3600,
      RefreshToken: 30 * 24 * 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 30 * 24 * 3600,
    },
    interactions: { url: (ctx, interaction) => `${POOL_PATH}/interaction/${interaction.uid}` },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<p role="alert">${escape(out.error)}: ${escape(out.error_description)}</p>`);
    },
  };
}

function escape(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)}</title></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function loginPage(uid, message) {
  const alert = message ? `<p role="alert">${escape(message)}</p>` : '';
  return page('Sign in', `${alert}
<form method="post" action="${POOL_PATH}/interaction/${escape(uid)}/login">
<label for="username">Username</label> <input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<form method="post" action="${POOL_PATH}/interaction/${escape(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 64 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

// interaction serves the sign-in page and finishes consent silently, as
// Cognito's managed login does.
async function interaction(provider, req, res, path) {
  const [uid, action] = path.split('/').slice(2);
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Error', '<p role="alert">This sign-in request has expired.</p>'));

  if (req.method === 'POST' && action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const user = USERS.find((u) => u.username === form.get('username'));
    if (!user || user.password !== form.get('password')) {
      return send(res, 200, loginPage(uid, 'Incorrect username or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  }
  if (req.method !== 'GET' || action) return send(res, 405, page('Error', '<p role="alert">Method not allowed.</p>'));

  if (details.prompt.name === 'login') return send(res, 200, loginPage(uid));

  // consent: grant what was asked for, without a page.
  const { missingOIDCScope = [], missingOIDCClaims = [], missingResourceScopes = {} } = details.prompt.details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope(missingOIDCScope.join(' '));
  grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes)) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

function main() {
  const s = settings();
  const keys = [signingKey('id'), signingKey('access')];
  const accessPrivate = { key: keys[1], format: 'jwk' };
  const server = createServer();
  server.listen(s.port, '127.0.0.1', () => {
    const issuer = `http://127.0.0.1:${server.address().port}${POOL_PATH}`;
    const provider = new Provider(issuer, configuration(s, keys));

    // Shape the token endpoint's answers like Cognito's.
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.method !== 'POST' || ctx.path !== '/oauth2/token' || ctx.status !== 200 || !ctx.body?.access_token) return;
      ctx.body.access_token = cognitoAccessToken(ctx.body.access_token, keys[1], accessPrivate);
      if (ctx.oidc?.params?.grant_type === 'refresh_token') delete ctx.body.refresh_token;
    });

    const callback = provider.callback();
    server.on('request', (req, res) => {
      const url = new URL(req.url, issuer);
      if (url.pathname !== POOL_PATH && !url.pathname.startsWith(`${POOL_PATH}/`)) {
        return send(res, 404, page('Not found', '<p>Not found.</p>'));
      }
      const path = url.pathname.slice(POOL_PATH.length);
      if (path.startsWith('/interaction/')) {
        return interaction(provider, req, res, path).catch((err) => {
          console.error(err);
          send(res, 400, page('Error', `<p role="alert">${escape(err.message)}</p>`));
        });
      }
      req.originalUrl = req.url; // as a mounting framework does, so oidc-provider builds its URLs under the pool path
      req.url = req.url.slice(POOL_PATH.length) || '/';
      return callback(req, res);
    });
    process.stdout.write(`${issuer}\n`);
  });

  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (s.exitWithStdin) {
    process.stdin.on('end', stop);
    process.stdin.resume();
  }
}

main();
