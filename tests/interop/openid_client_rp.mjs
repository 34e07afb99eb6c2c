#!/usr/bin/env node
// GovID seen from outside: a relying party built on `openid-client` (panva) drives a
// complete OpenID Connect session against a running GovID and prints ONE JSON object.
//
//   node openid_client_rp.mjs --issuer http://127.0.0.1:8000 --client-id app \
//        --redirect-uri https://rp.example/cb --post-logout-redirect-uri https://rp.example/bye \
//        --email alice@example.go.th
//   (client secret and password from INTEROP_CLIENT_SECRET / INTEROP_PASSWORD, so they
//    never show up in `ps`; --client-secret / --password also work)
//
// Steps: discovery → authorization URL (PKCE S256, state, nonce) → GovID's login form
// over plain HTTP (cookies, hidden csrf_token and i fields, GovID's own redirects) →
// authorization code grant (openid-client checks iss (RFC 9207 too), state, aud, nonce,
// exp, iat and, with enableNonRepudiationChecks, the ID token signature against the JWKS;
// at_hash is checked here, OIDC Core §3.1.3.8) → userinfo (sub must match) → refresh →
// introspection → revocation (then the token must be dead) → RP-initiated logout.
//
// Exit status 0 when every step ran (the caller asserts on the JSON), 1 on the first
// failure (the JSON then has "ok": false, "step" and "error").

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as client from 'openid-client';

const results = {
  ok: false,
  node: process.version,
};
let step = 'start';

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
    'post-logout-redirect-uri': { type: 'string' },
    email: { type: 'string' },
    password: { type: 'string' },
    scope: { type: 'string', default: 'openid profile email govid' },
  },
});

const issuer = required('issuer');
const clientId = required('client-id');
const clientSecret = args['client-secret'] ?? process.env.INTEROP_CLIENT_SECRET;
const redirectUri = required('redirect-uri');
const postLogoutRedirectUri = required('post-logout-redirect-uri');
const email = required('email');
const password = args.password ?? process.env.INTEROP_PASSWORD;
if (!clientSecret || !password) fail('args', new Error('client secret and password are required'));

function required(name) {
  const v = args[name];
  if (!v) fail('args', new Error(`--${name} is required`));
  return v;
}

function fail(where, err) {
  const out = { ...results, ok: false, step: where };
  out.error = String(err?.message ?? err);
  if (err?.code) out.code = err.code;
  if (err?.error) out.oauth_error = err.error;
  if (err?.error_description) out.oauth_error_description = err.error_description;
  if (err?.cause && typeof err.cause === 'object') {
    try {
      out.cause = JSON.parse(JSON.stringify(err.cause));
    } catch {
      out.cause = String(err.cause);
    }
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(1);
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

function jwtParts(jwt) {
  const [h, p] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url')),
    claims: JSON.parse(Buffer.from(p, 'base64url')),
  };
}

// OIDC Core §3.1.3.6: left half of the hash of the access token, hash from the JWS alg.
function atHash(accessToken, alg) {
  const bits = { 256: 'sha256', 384: 'sha384', 512: 'sha512' }[alg.slice(-3)];
  const digest = createHash(bits).update(accessToken, 'ascii').digest();
  return b64url(digest.subarray(0, digest.length / 2));
}

// ------------------------------------------------------------------ a minimal browser

class Browser {
  constructor(origin) {
    this.origin = origin;
    this.cookies = new Map(); // one host (the issuer): name -> value
    this.requests = 0;
  }

  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v = ''] = a.trim().split('=');
        const key = k.toLowerCase();
        return (key === 'max-age' && Number(v) <= 0) || (key === 'expires' && Date.parse(v) < Date.now());
      });
      if (expired || value === '' || value === '""') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(url, { method = 'GET', form } = {}) {
    const headers = { 'user-agent': 'govid-interop/openid-client', 'accept-language': 'en' };
    if (this.cookies.size) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    this.requests += 1;
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    this.store(res);
    return res;
  }

  // Follow GovID's own redirects; stop at the first one that leaves GovID (the RP).
  async go(url, opts) {
    let current = new URL(url);
    let res = await this.request(current, opts);
    for (let hop = 0; hop < 10; hop += 1) {
      const loc = res.headers.get('location');
      if (![301, 302, 303, 307, 308].includes(res.status) || !loc) {
        return { res, url: current, html: await res.text() };
      }
      const next = new URL(loc, current);
      if (next.origin !== this.origin) return { res, url: current, left: next };
      await res.arrayBuffer();
      current = next;
      res = await this.request(current);
    }
    throw new Error('redirect loop inside GovID');
  }
}

function unescapeHtml(s) {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

// The <form> posting to `action` and its hidden fields.
function formFields(html, action) {
  const forms = html.match(/<form\b[^>]*>[\s\S]*?<\/form>/gi) ?? [];
  const form = forms.find((f) => new RegExp(`action="${action}"`).test(f));
  if (!form) return null;
  const fields = {};
  for (const input of form.match(/<input\b[^>]*>/gi) ?? []) {
    const type = /\btype="([^"]*)"/i.exec(input)?.[1];
    const name = /\bname="([^"]*)"/i.exec(input)?.[1];
    const value = /\bvalue="([^"]*)"/i.exec(input)?.[1] ?? '';
    if (type === 'hidden' && name) fields[name] = unescapeHtml(value);
  }
  return fields;
}

// ------------------------------------------------------------------ the session

async function main() {
  results.openid_client = JSON.parse(
    readFileSync(new URL('./node_modules/openid-client/package.json', import.meta.url)),
  ).version;
  step = 'discovery';
  const issuerUrl = new URL(issuer);
  const execute = issuerUrl.protocol === 'http:' ? [client.allowInsecureRequests] : [];
  const config = await client.discovery(
    issuerUrl,
    clientId,
    { redirect_uris: [redirectUri], id_token_signed_response_alg: 'RS256' },
    client.ClientSecretBasic(clientSecret),
    { execute },
  );
  client.enableNonRepudiationChecks(config); // ID token signatures checked against /jwks
  const meta = config.serverMetadata();
  results.discovery = {
    issuer: meta.issuer,
    pkce_s256: meta.supportsPKCE('S256'),
    iss_parameter: meta.authorization_response_iss_parameter_supported === true,
    end_session_endpoint: meta.end_session_endpoint,
  };

  step = 'authorization_url';
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: args.scope,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  results.authorization_url = {
    code_challenge_method: authUrl.searchParams.get('code_challenge_method'),
    has_state: authUrl.searchParams.get('state') === state,
    has_nonce: authUrl.searchParams.get('nonce') === nonce,
  };

  step = 'login';
  const browser = new Browser(new URL(meta.authorization_endpoint).origin);
  let page = await browser.go(authUrl);
  if (page.left) throw new Error(`GovID redirected to the RP before any login: ${page.left}`);
  const loginFields = formFields(page.html, '/login');
  if (!loginFields?.csrf_token || !loginFields?.i) {
    throw new Error(`no login form at ${page.url} (HTTP ${page.res.status})`);
  }
  const loginPage = page.url.pathname;
  page = await browser.go(new URL('/login', page.url), {
    method: 'POST',
    form: { csrf_token: loginFields.csrf_token, i: loginFields.i, email, password },
  });
  if (!page.left) {
    const consent = page.html && formFields(page.html, '/consent');
    if (!consent) throw new Error(`login did not return to the RP (HTTP ${page.res.status})`);
    page = await browser.go(new URL('/consent', page.url), {
      method: 'POST',
      form: { ...consent, decision: 'allow' },
    });
  }
  if (!page.left?.href.startsWith(redirectUri)) throw new Error(`not at the RP: ${page.left}`);
  const callback = page.left;
  results.login = {
    login_page: loginPage,
    http_requests: browser.requests,
    callback_status: page.res.status,
    callback_has_code: callback.searchParams.has('code'),
    callback_iss: callback.searchParams.get('iss'),
    callback_state_matches: callback.searchParams.get('state') === state,
  };

  step = 'authorization_code_grant';
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const idt = jwtParts(tokens.id_token);
  const at = jwtParts(tokens.access_token);
  results.tokens = {
    token_type: tokens.token_type,
    expires_in: tokens.expiresIn(),
    scope: tokens.scope,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    access_token_typ: at.header.typ,
  };
  results.id_token = {
    alg: idt.header.alg,
    kid: idt.header.kid,
    signature_verified: true, // enableNonRepudiationChecks: a bad signature throws above
    iss: claims.iss,
    aud: claims.aud,
    sub: claims.sub,
    nonce_matches: claims.nonce === nonce,
    at_hash_matches: claims.at_hash === atHash(tokens.access_token, idt.header.alg),
    exp_in_future: claims.exp > Date.now() / 1000,
    acr: claims.acr,
    amr: claims.amr,
    sid: claims.sid,
    auth_time: claims.auth_time,
  };

  step = 'userinfo';
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  results.userinfo = {
    sub: userinfo.sub,
    email: userinfo.email,
    email_verified: userinfo.email_verified,
    has_agency: typeof userinfo.agency === 'object' && userinfo.agency !== null,
  };

  step = 'refresh';
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  results.refresh = {
    access_token_changed: refreshed.access_token !== tokens.access_token,
    refresh_token_changed:
      typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
    id_token_sub: refreshed.id_token ? refreshed.claims().sub : null,
  };
  // Rotation: the old refresh token is spent (and its reuse would revoke the family).
  const userinfoAfterRefresh = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  results.refresh.userinfo_sub = userinfoAfterRefresh.sub;

  step = 'introspection';
  const intro = await client.tokenIntrospection(config, refreshed.access_token);
  results.introspection = {
    active: intro.active,
    sub: intro.sub,
    client_id: intro.client_id,
    acr: intro.acr,
  };

  step = 'revocation';
  await client.tokenRevocation(config, refreshed.access_token, { token_type_hint: 'access_token' });
  await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
  const introAfter = await client.tokenIntrospection(config, refreshed.access_token);
  let userinfoAfterRevoke = 'accepted';
  try {
    await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  } catch (err) {
    userinfoAfterRevoke = err.status ?? err.cause?.status ?? err.code ?? 'rejected';
  }
  let refreshAfterRevoke = 'accepted';
  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token);
  } catch (err) {
    refreshAfterRevoke = err.error ?? err.code ?? 'rejected';
  }
  results.revocation = {
    ok: true, // tokenRevocation throws on anything but 200
    introspection_active_after: introAfter.active,
    userinfo_after: userinfoAfterRevoke,
    refresh_after: refreshAfterRevoke,
  };

  step = 'end_session';
  const logoutState = client.randomState();
  const endUrl = client.buildEndSessionUrl(config, {
    id_token_hint: refreshed.id_token ?? tokens.id_token,
    post_logout_redirect_uri: postLogoutRedirectUri,
    state: logoutState,
  });
  const bye = await browser.go(endUrl);
  const left = bye.left;
  results.logout = {
    status: bye.res.status,
    location: left?.href ?? null,
    redirect_matches: left ? `${left.origin}${left.pathname}` === postLogoutRedirectUri : false,
    state: left?.searchParams.get('state') ?? null,
    state_matches: left?.searchParams.get('state') === logoutState,
  };
  // The SSO session is over: the same browser is asked to sign in again.
  const again = await browser.go(authUrl);
  results.logout.login_required_after = !again.left && formFields(again.html, '/login') !== null;

  results.ok = true;
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

main().catch((err) => fail(step, err));
