// node-oidc-provider 9 as the baseline for bench/ S1 (discovery + JWKS), S2
// (client_credentials with client_secret_basic), S3 (code flow + PKCE sign-in with a
// password), S4 (refresh with rotation) and S5 (userinfo, introspection): one process,
// in-memory adapter, an RS256 + ES256 key like GovID's JWKS, and RFC 9068-style JWT
// access tokens (through resource indicators) so that S2, S3 and S4 sign a JWT per
// request on both sides.
//
//   node server.mjs --port 9001 --client-id bench --client-secret s3cret \
//        [--access-token-format jwt|opaque] [--alg RS256|ES256] \
//        [--accounts 4 --password-stdin-env BENCH_PASSWORD]
//
// S3: the interaction app below (GET /interaction/:uid shows the sign-in form, POST
// /interaction/:uid/login checks the password) verifies an argon2id hash with GovID's
// production parameters (m=19 MiB, t=2, p=1; @node-rs/argon2, the fastest argon2 on
// npm here) of accounts user0..user{N-1}@bench.example kept in memory, the password
// from $BENCH_PASSWORD. The bench client is first-party like GovID's: the grant is
// made without a consent screen (loadExistingGrant), and a refresh token is issued
// without offline_access (issueRefreshToken), as GovID does for its web client.
//
// S4/S5 need tokens that a sign-in would have produced; `GET /bench/tokens?n=16`
// mints them through the provider's own models (a grant per chain, as a code
// redemption would leave it): `n` refresh tokens (scope `api`, for the bench resource,
// so a refresh issues a JWT access token and no ID token, like GovID's refresh), and
// one opaque access token with `openid profile email` for userinfo and introspection
// (node-oidc-provider's userinfo accepts only opaque tokens issued without a resource).
// Refresh tokens always rotate (`rotateRefreshToken: true`), like GovID's.
//
// Prints one line "listening <url>" when ready; stops on SIGTERM/SIGINT.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Algorithm, hashSync, verify } from '@node-rs/argon2';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '9001' },
    'client-id': { type: 'string', default: 'bench-machine' },
    'client-secret': { type: 'string' },
    'access-token-format': { type: 'string', default: 'jwt' },
    alg: { type: 'string', default: 'RS256' },
    accounts: { type: 'string', default: '4' },
  },
});

const port = Number(args.port);
const issuer = `http://127.0.0.1:${port}`;
const resource = 'urn:govid:bench:api';
const secret = args['client-secret'] ?? process.env.BENCH_CLIENT_SECRET;
if (!secret) throw new Error('--client-secret or BENCH_CLIENT_SECRET is required');

function jwk(type, options, extra) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), use: 'sig', ...extra };
}

const keys = [
  jwk('rsa', { modulusLength: 2048 }, { alg: 'RS256', kid: 'rs256-bench' }),
  jwk('ec', { namedCurve: 'P-256' }, { alg: 'ES256', kid: 'es256-bench' }),
];

const jwtAccessTokens = args['access-token-format'] === 'jwt';

// GovID's production argon2id parameters (idp/config/__init__.py defaults).
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const password = process.env.BENCH_PASSWORD ?? 'bench: correct horse battery staple';
const accounts = new Map(); // email -> { accountId, hash }
// hashSync: an awaited async hash at the module's top level left the process hanging
// before listen in about 1 start of 3 (seen in CI: "not ready after 60 s").
for (let i = 0; i < Number(args.accounts); i += 1) {
  const email = `user${i}@bench.example`;
  accounts.set(email, { accountId: `bench-user-${i}`, hash: hashSync(password, ARGON2) });
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: args['client-id'],
      client_secret: secret,
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      redirect_uris: ['http://127.0.0.1:9/bench/callback'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid offline_access profile email api',
    },
  ],
  jwks: { keys },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'api'],
  claims: { openid: ['sub'], profile: ['name', 'given_name', 'family_name'], email: ['email', 'email_verified'] },
  rotateRefreshToken: true,
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // First-party client: the grant without a consent screen (the documented way).
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    if (!ctx.oidc.session.accountId) return undefined;
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid offline_access profile email');
    if (jwtAccessTokens) grant.addResourceScope(resource, 'api');
    await grant.save();
    return grant;
  },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return {
          sub, name: 'Bench User', given_name: 'Bench', family_name: 'User',
          email: `${sub}@bench.example`, email_verified: true,
        };
      },
    };
  },
  features: {
    userinfo: { enabled: true },
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: jwtAccessTokens,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: resource,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: args.alg } },
      }),
    },
  },
});

// Tokens for S4/S5 (see the header): what a code redemption would have left behind.
async function mintTokens(n) {
  const client = await provider.Client.find(args['client-id']);
  const refresh = [];
  for (let i = 0; i < n; i += 1) {
    const accountId = `bench-user-${i}`;
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope('openid offline_access');
    grant.addResourceScope(resource, 'api');
    const grantId = await grant.save();
    const rt = new provider.RefreshToken({
      accountId, client, grantId, gty: 'authorization_code', scope: 'api', resource,
    });
    refresh.push(await rt.save());
  }
  const accountId = 'bench-user-userinfo';
  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope('openid profile email');
  const grantId = await grant.save();
  const at = new provider.AccessToken({
    accountId, client, grantId, gty: 'authorization_code', scope: 'openid profile email',
  });
  return { refresh_tokens: refresh, access_token: await at.save() };
}

async function formBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

const escape = (v) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// The interaction app (S3): the sign-in form, the password check, a consent fallback.
async function interaction(ctx, uid, action) {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
  const { prompt } = details;
  if (action === undefined && prompt.name === 'login') {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>Sign in</title><form method="post" action="/interaction/${escape(uid)}/login">`
      + '<input name="email" type="email"><input name="password" type="password">'
      + '<button>Sign in</button></form>';
    return;
  }
  let result;
  if (action === 'login' && ctx.method === 'POST' && prompt.name === 'login') {
    const form = await formBody(ctx.req);
    const account = accounts.get(form.get('email'));
    if (!account || !(await verify(account.hash, form.get('password') ?? '', ARGON2))) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = '<!doctype html><title>Sign in</title><p>Wrong email or password</p>';
      return;
    }
    result = { login: { accountId: account.accountId } };
  } else if (prompt.name === 'consent') { // not reached with loadExistingGrant above
    const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    result = { consent: { grantId: await grant.save() } };
  } else {
    ctx.throw(400, `unexpected ${ctx.method} for prompt ${prompt.name}`);
  }
  const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(to);
}

provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/bench/tokens') {
    ctx.body = await mintTokens(Number(ctx.query.n || 16));
    return;
  }
  const m = /^\/interaction\/([\w-]+)(?:\/(login))?$/.exec(ctx.path);
  if (m) {
    await interaction(ctx, m[1], m[2]);
    return;
  }
  await next();
});

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
