"""Relying-party side helpers built on Authlib's OAuth 2.0 client (httpx)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx
from authlib.integrations.httpx_client import OAuth2Client

from tests.protocol.conftest import REDIRECT, Browser, World, callback_params, pkce_pair


@dataclass
class Login:
    rp: OAuth2Client
    browser: Browser
    token: dict
    nonce: str
    params: dict


def rp_client(world: World, name: str = "web", **kw) -> OAuth2Client:
    c = world.client(name)
    method = c.get("auth_method", "client_secret_basic")
    return OAuth2Client(
        client_id=c["client_id"],
        client_secret=c["secret"],
        token_endpoint_auth_method=method,
        redirect_uri=kw.pop("redirect_uri", REDIRECT),
        scope=kw.pop("scope", "openid profile email govid"),
        code_challenge_method="S256",
        timeout=20,
        **kw,
    )


def authorize_url(world: World, rp: OAuth2Client, **extra) -> tuple[str, str, str, str]:
    verifier, _ = pkce_pair()
    nonce = secrets.token_urlsafe(12)
    state = secrets.token_urlsafe(12)
    url, _state = rp.create_authorization_url(
        f"{world.base}/authorize", state=state, nonce=nonce, code_verifier=verifier, **extra
    )
    return url, verifier, nonce, state


def login(
    world: World, user: str = "alice", name: str = "web", browser: Browser | None = None, **extra
) -> Login:
    rp = rp_client(world, name)
    browser = browser or Browser(world.base)
    url, verifier, nonce, state = authorize_url(world, rp, **extra)
    page = browser.go(url)
    if page.status_code == 200 and 'action="/login"' in page.text:
        page = browser.login(page, world.users[user])
    if page.status_code == 200 and 'action="/consent"' in page.text:
        page = browser.submit(page, "/consent", decision="allow")
    params = callback_params(page)
    assert params["state"] == state
    token = rp.fetch_token(f"{world.base}/token", code=params["code"], code_verifier=verifier)
    return Login(rp, browser, dict(token), nonce, params)


def token_post(world: World, name: str, data: dict, path: str = "/token") -> httpx.Response:
    """A raw token-endpoint call with the client's registered authentication."""
    c = world.client(name)
    method = c.get("auth_method", "client_secret_basic")
    if method == "client_secret_basic":
        return httpx.post(f"{world.base}{path}", data=data, auth=(c["client_id"], c["secret"]))
    if method == "client_secret_post":
        return httpx.post(
            f"{world.base}{path}",
            data={**data, "client_id": c["client_id"], "client_secret": c["secret"]},
        )
    return httpx.post(f"{world.base}{path}", data={**data, "client_id": c["client_id"]})
