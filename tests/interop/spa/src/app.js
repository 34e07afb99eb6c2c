// A single-page app relying party of GovID: oidc-client-ts with a public client
// (token_endpoint_auth_method=none), authorization code + PKCE S256, refresh tokens
// with rotation, silent renew in a hidden iframe (prompt=none), RP-initiated logout.
//
// It is configured at run time from /config.json (as an agency would deploy one build
// to several environments) and exposes `window.spa` for the test driver; the pages'
// buttons call the same functions a person would use.
import { Log, UserManager, WebStorageStateStore } from "oidc-client-ts";

const out = document.getElementById("out");
const violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  violations.push({ directive: e.effectiveDirective, blocked: e.blockedURI });
});

function show(value) {
  out.textContent = JSON.stringify(value, null, 2);
  document.body.dataset.ready = "1";
  return value;
}

function describe(user) {
  if (!user) return null;
  return {
    sub: user.profile.sub,
    profile: user.profile,
    scope: user.scope,
    access_token: user.access_token,
    refresh_token: user.refresh_token ?? null,
    id_token: user.id_token,
    expires_at: user.expires_at,
    session_state: user.session_state ?? null,
  };
}

function failure(err) {
  return {
    failed: true,
    name: err?.name ?? "Error",
    error: err?.error ?? null,
    error_description: err?.error_description ?? null,
    message: String(err?.message ?? err),
  };
}

async function main() {
  const config = await (await fetch("/config.json")).json();
  if (config.debug) {
    Log.setLogger(console);
    Log.setLevel(Log.DEBUG);
  }
  const here = window.location.origin;
  const mgr = new UserManager({
    authority: config.authority,
    client_id: config.client_id,
    redirect_uri: `${here}/callback.html`,
    silent_redirect_uri: `${here}/silent.html`,
    post_logout_redirect_uri: `${here}/logged-out.html`,
    response_type: "code",
    scope: "openid profile email govid",
    loadUserInfo: true, // oidc-client-ts calls /userinfo from the browser after sign-in
    automaticSilentRenew: false, // the test decides when to renew
    monitorSession: false, // GovID offers no check_session_iframe
    includeIdTokenInSilentRenew: true, // id_token_hint with prompt=none (OIDC Core §3.1.2.1)
    silentRequestTimeoutInSeconds: 5,
    requestTimeoutInSeconds: 10,
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
  });

  async function call(fn) {
    try {
      return show(await fn());
    } catch (err) {
      return show(failure(err));
    }
  }

  // A fetch as the page makes it: CORS and the page's connect-src both apply.
  async function probe(url, init = {}) {
    const before = violations.length;
    try {
      const r = await fetch(url, init);
      let body = null;
      try {
        body = await r.clone().json();
      } catch {
        body = null;
      }
      return {
        ok: true,
        status: r.status,
        body,
        www_authenticate: r.headers.get("WWW-Authenticate"),
        csp_violations: violations.slice(before),
      };
    } catch (err) {
      // securitypolicyviolation is a task of its own, queued after the rejection.
      await new Promise((resolve) => setTimeout(resolve, 100));
      return {
        ok: false,
        error: `${err.name}: ${err.message}`,
        csp_violations: violations.slice(before),
      };
    }
  }

  const spa = {
    origin: here,
    violations,
    async user() {
      return describe(await mgr.getUser());
    },
    login() {
      return mgr.signinRedirect();
    },
    async userinfo() {
      const user = await mgr.getUser();
      const md = await mgr.metadataService.getMetadata();
      return probe(md.userinfo_endpoint, {
        headers: { Authorization: `Bearer ${user.access_token}` },
      });
    },
    refresh() {
      return call(async () => describe(await mgr.signinSilent()));
    },
    silentIframe() {
      return call(async () => describe(await mgr.signinSilent({ forceIframeAuth: true })));
    },
    revokeRefreshToken() {
      return call(async () => {
        await mgr.revokeTokens(["refresh_token"]);
        return { revoked: true };
      });
    },
    // A refresh as any script could send it (the old token after rotation, say).
    async rawRefresh(refreshToken) {
      const md = await mgr.metadataService.getMetadata();
      return probe(md.token_endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "refresh_token",
          refresh_token: refreshToken,
          client_id: config.client_id,
        }),
      });
    },
    metadata() {
      return mgr.metadataService.getMetadata();
    },
    probe,
    logout() {
      // state: oidc-client-ts sends (and checks on return) a state only with data.
      return mgr.signoutRedirect({ state: { from: "sign-out button" } });
    },
  };
  window.spa = spa;

  document.getElementById("login")?.addEventListener("click", () => spa.login());
  document.getElementById("logout")?.addEventListener("click", () => spa.logout());

  const path = window.location.pathname;
  if (path === "/callback.html") {
    const result = await call(async () => describe(await mgr.signinRedirectCallback()));
    if (!result.failed) window.history.replaceState({}, "", "/");
    return;
  }
  if (path === "/silent.html") {
    // Inside the hidden iframe: hand the answer to the parent window.
    await mgr.signinSilentCallback();
    return;
  }
  if (path === "/logged-out.html") {
    await call(async () => {
      const response = await mgr.signoutRedirectCallback();
      return { signed_out: true, state: response.userState ?? null, user: await spa.user() };
    });
    return;
  }
  show(await spa.user());
}

main().catch((err) => show(failure(err)));
