// node-oidc-provider as the baseline for bench/ S1 (discovery + JWKS), S2
// (client_credentials with client_secret_basic), S4 (refresh with rotation) and S5
// (userinfo, introspection): one process, in-memory adapter, an RS256 + ES256 key like
// GovID's JWKS, and RFC 9068-style JWT access tokens (through resource indicators) so
// that S2 and S4 sign a JWT per request on both sides.
//
//   node server.mjs --port 9001 --client-id bench --client-secret s3cret \
//        [--access-token-format jwt|opaque] [--alg RS256|ES256]
//
// S4/S5 need tokens that a sign-in would have produced; node-oidc-provider's sign-in
// needs an interaction app this baseline does not have, so `GET /bench/tokens?n=16`
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
import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '9001' },
    'client-id': { type: 'string', default: 'bench-machine' },
    'client-secret': { type: 'string' },
    'access-token-format': { type: 'string', default: 'jwt' },
    alg: { type: 'string', default: 'RS256' },
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

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: args['client-id'],
      client_secret: secret,
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      redirect_uris: ['http://127.0.0.1:9/bench/callback'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'api',
    },
  ],
  jwks: { keys },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'api'],
  claims: { openid: ['sub'], profile: ['name', 'given_name', 'family_name'], email: ['email', 'email_verified'] },
  rotateRefreshToken: true,
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

provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/bench/tokens') {
    ctx.body = await mintTokens(Number(ctx.query.n || 16));
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
