// node-oidc-provider as the baseline for bench/ S1 (discovery + JWKS) and S2
// (client_credentials with client_secret_basic): one process, in-memory adapter,
// an RS256 + ES256 key like GovID's JWKS, and RFC 9068-style JWT access tokens (through
// resource indicators) so that S2 signs a JWT per request on both sides.
//
//   node server.mjs --port 9001 --client-id bench --client-secret s3cret \
//        [--access-token-format jwt|opaque] [--alg RS256|ES256]
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
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'api',
    },
  ],
  jwks: { keys },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'api'],
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    introspection: { enabled: false },
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

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
