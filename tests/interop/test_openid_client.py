"""GovID through the eyes of an outside relying party: panva's `openid-client` (Node.js)
runs discovery, a PKCE login, the code grant with ID token validation, userinfo, refresh,
introspection, revocation and RP-initiated logout against a real `idp serve`."""

from __future__ import annotations

import json
import os
import subprocess

from tests.interop.conftest import INTEROP
from tests.protocol.conftest import PASSWORD

SCRIPT = INTEROP / "openid_client_rp.mjs"
TIMEOUT = 120


def run_rp(node: str, base: str, app: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(INTEROP_CLIENT_SECRET=app["client_secret"], INTEROP_PASSWORD=PASSWORD)
    proc = subprocess.run(
        [
            node,
            str(SCRIPT),
            "--issuer",
            base,
            "--client-id",
            app["client_id"],
            "--redirect-uri",
            app["redirect_uri"],
            "--post-logout-redirect-uri",
            app["post_logout_redirect_uri"],
            "--email",
            app["email"],
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=INTEROP,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no output (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    result = json.loads(lines[-1])
    assert proc.returncode == 0 and result["ok"], json.dumps(result, indent=2) + proc.stderr
    return result


def test_openid_client_full_session(node, world, interop_app):
    r = run_rp(node, world.base, interop_app)

    assert r["openid_client"].startswith("6.")
    assert r["discovery"]["issuer"] == world.base
    assert r["discovery"]["pkce_s256"] and r["discovery"]["iss_parameter"]

    assert r["authorization_url"]["code_challenge_method"] == "S256"
    assert r["login"]["login_page"] == "/authorize"  # the sign-in page, no redirect
    assert r["login"]["callback_has_code"] and r["login"]["callback_state_matches"]
    assert r["login"]["callback_iss"] == world.base  # RFC 9207

    idt = r["id_token"]
    assert idt["signature_verified"] and idt["kid"] and idt["alg"] == "RS256"
    assert idt["iss"] == world.base and idt["aud"] == interop_app["client_id"]
    assert idt["nonce_matches"] and idt["at_hash_matches"] and idt["exp_in_future"]
    assert idt["acr"] == "urn:govid:acr:1" and idt["amr"] == ["pwd"] and idt["sid"]
    assert r["tokens"]["access_token_typ"] == "at+jwt" and r["tokens"]["has_refresh_token"]

    assert r["userinfo"]["sub"] == idt["sub"]
    assert r["userinfo"]["email"] == interop_app["email"] and r["userinfo"]["has_agency"]

    assert r["refresh"]["access_token_changed"] and r["refresh"]["refresh_token_changed"]
    assert r["refresh"]["userinfo_sub"] == idt["sub"]
    assert r["refresh"]["id_token_sub"] in (None, idt["sub"])

    assert r["introspection"]["active"] is True and r["introspection"]["sub"] == idt["sub"]
    assert r["introspection"]["client_id"] == interop_app["client_id"]

    rev = r["revocation"]
    assert rev["ok"] and rev["introspection_active_after"] is False
    assert rev["userinfo_after"] == 401
    assert rev["refresh_after"] == "invalid_grant"

    out = r["logout"]
    assert out["status"] == 303 and out["redirect_matches"]
    assert out["state"] and out["state_matches"]
    assert out["location"] == f"{interop_app['post_logout_redirect_uri']}?state={out['state']}"
    assert out["login_required_after"]
