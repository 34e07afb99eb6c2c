"""node-oidc-provider's side of ``bench/oidc_bench.py`` (issue 22): S1, S2, S3, S4 and S5
against bench/node-oidc-provider (node-oidc-provider 9, one process, in-memory adapter,
pinned to the server CPU like GovID), each scenario measured exactly as GovID's.

S3 signs in through the interaction app of bench/node-oidc-provider/server.mjs, whose
password check is argon2id with GovID's production parameters: GET /auth → the sign-in
form (/interaction/<uid>) → POST the password → /auth/<uid> (resume; the bench client
is first-party, so no consent screen, as with GovID) → code → POST /token with the PKCE
verifier. Five requests against GovID's three (its sign-in page is /authorize itself and
its sign-in POST redirects to the client): each side as its browsers would see it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import oidc_bench as B

CLIENT_ID = "bench-machine"
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def start_node(
    secret: str, fmt: str = "jwt", alg: str = "RS256", accounts: int = 4
) -> tuple[B.Server, str]:
    port = B.free_port()
    env = {
        **os.environ,
        "BENCH_CLIENT_SECRET": secret,
        "BENCH_PASSWORD": B.PASSWORD,
        "NODE_ENV": "production",
    }
    argv = ["node", "server.mjs", "--port", str(port), "--client-id", CLIENT_ID]
    argv += ["--access-token-format", fmt, "--alg", alg, "--accounts", str(accounts)]
    return B.Server("node-oidc-provider", argv, env, cwd=B.NODE_OP), f"http://127.0.0.1:{port}"


def version() -> str:
    lock = json.loads((B.NODE_OP / "package-lock.json").read_text())
    return lock["packages"]["node_modules/oidc-provider"]["version"]


class NodeLogin:
    """One S3 sign-in against node-oidc-provider, with a new cookie jar (a new browser);
    ``emails`` are the accounts server.mjs made (``--accounts``)."""

    def __init__(self, secret: str, accounts: int) -> None:
        self.secret = secret
        self.emails = [f"user{n}@bench.example" for n in range(accounts)]

    async def __call__(
        self,
        transport: httpx.AsyncHTTPTransport,
        base: str,
        email: str,
        tokens_out: dict[str, Any] | None = None,
    ) -> dict[str, float]:
        sent = 0

        async def count(_request: httpx.Request) -> None:
            nonlocal sent
            sent += 1

        browser = httpx.AsyncClient(
            transport=transport, base_url=base, timeout=60, event_hooks={"request": [count]}
        )
        verifier, challenge = B.pkce_pair()
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        steps: dict[str, float] = {}
        t = B.time.perf_counter()

        def lap(name: str) -> None:
            nonlocal t
            now = B.time.perf_counter()
            steps[name] = now - t
            t = now

        r = await browser.get(
            "/auth",
            params={
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": B.REDIRECT,
                "scope": "openid profile email",
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        B._expect(r, (302, 303), "authorize")
        r = await browser.get(urljoin(base, r.headers["location"]))
        B._expect(r, (200,), "login form")
        action = FORM_ACTION.search(r.text)
        if not action:
            raise B.LoginFailed(f"no sign-in form: {r.text[:200]!r}")
        lap("sign_in_page")
        r = await browser.post(action[1], data={"email": email, "password": B.PASSWORD})
        B._expect(r, (302, 303), "login")
        lap("login_post")
        r = await browser.get(urljoin(base, r.headers["location"]))  # /auth/<uid>
        B._expect(r, (302, 303), "resume")
        location = r.headers["location"]
        if not location.startswith(B.REDIRECT):
            raise B.LoginFailed(f"resume went to {location}")  # e.g. a consent screen
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        if params.get("state") != state or "code" not in params:
            raise B.LoginFailed(f"bad callback {params}")
        lap("resume")
        r = await browser.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": B.REDIRECT,
                "code_verifier": verifier,
            },
            auth=(CLIENT_ID, self.secret),
        )
        B._expect(r, (200,), "token")
        if "id_token" not in r.json():
            raise B.LoginFailed("no id_token")
        if tokens_out is not None:
            tokens_out.update(r.json())
        lap("token")
        steps["_http_requests"] = sent
        return steps


def check_s3(base: str, login: NodeLogin) -> None:
    """One sign-in: an ES256 JWT access token (GovID's default) and an ID token."""

    async def one() -> dict[str, Any]:
        got: dict[str, Any] = {}
        transport = httpx.AsyncHTTPTransport()
        try:
            await login(transport, base, login.emails[0], tokens_out=got)
        finally:
            await transport.aclose()
        return got

    got = B.asyncio.run(one())
    header = json.loads(B.base64.urlsafe_b64decode(got["access_token"].split(".")[0] + "=="))
    assert header["alg"] == "ES256" and got.get("refresh_token"), (header, list(got))


def run(args, only: set[str], info: dict[str, Any], results: dict[str, Any]) -> None:
    """node-oidc-provider's counterpart of every selected scenario that it has."""
    info["node_op"] = version()
    secret = secrets.token_urlsafe(32)
    machine = B.s2_env(CLIENT_ID, secret, "api")
    if args.one_server:  # the smoke test: every scenario against the ES256 server
        only = (only | {"S2ES"}) - {"S2"} if "S2" in only else only
    elif only & {"S1", "S2"}:
        server, base = start_node(secret, "jwt")
        with B.running(server, base + B.DISCOVERY):
            B.log(f"node-oidc-provider {info['node_op']} on {base} (pid {server.pid})")
            if "S1" in only:
                results.update(B.s1_scenarios(args, base, server.pid, "node"))
            if "S2" in only:
                B.check_s2(base, CLIENT_ID, secret, "api", "RS256")
                B.log("S2 node: client_credentials, RS256 access tokens")
                results["S2 node RS256"] = B.wrk_scenario(args, base, machine, server.pid)
    if "S2" in only and not args.one_server:
        server, base = start_node(secret, "opaque")
        with B.running(server, base + B.DISCOVERY):
            B.log("S2 node: client_credentials, opaque access tokens")
            results["S2 node opaque"] = B.wrk_scenario(args, base, machine, server.pid)
    # ES256 JWT access tokens, GovID's default (issue 22: compare like with like).
    if only & {"S2ES", "S3", "S4", "S5"} or args.one_server:
        server, base = start_node(secret, "jwt", alg="ES256", accounts=args.s3_accounts)
        with B.running(server, base + B.DISCOVERY):
            if "S1" in only and args.one_server:
                results.update(B.s1_scenarios(args, base, server.pid, "node"))
            if "S2ES" in only:
                B.check_s2(base, CLIENT_ID, secret, "api", "ES256")
                B.log("S2 node: client_credentials, ES256 access tokens")
                results["S2 node ES256"] = B.wrk_scenario(args, base, machine, server.pid)
            if "S3" in only:
                login = NodeLogin(secret, args.s3_accounts)
                check_s3(base, login)
                B.log(f"S3 node: code flow + PKCE, {args.s3_concurrency} concurrent logins")
                results["S3 node"] = B.s3_scenario(args, base, None, server.pid, None, login=login)
            if only & {"S4", "S5"}:
                s45(args, only, base, secret, server.pid, results)


def s45(args, only: set[str], base: str, secret: str, pid: int, results: dict) -> None:
    auth = B.basic_auth(CLIENT_ID, secret)
    minted = httpx.get(f"{base}/bench/tokens", params={"n": args.s4_chains}).json()
    at = minted["access_token"]
    if "S5" in only:
        B.check_s5(base, "/me", "/token/introspection", auth, at)
        B.log("S5 node: userinfo, introspection")
        results["S5U node"] = B.wrk_scenario(args, base, B.s5_userinfo_env(at, "/me"), pid)
        results["S5I node"] = B.wrk_scenario(
            args, base, B.s5_introspect_env("/token/introspection", auth, at), pid
        )
    if "S4" in only:
        B.log(f"S4 node: refresh with rotation, {args.s4_chains} chains")
        results["S4 node"] = B.s4_scenario(args, base, auth, minted["refresh_tokens"], pid)
