"""OpenID Provider metadata (OIDC Discovery 1.0 §3) and OAuth 2.0 Authorization Server
Metadata (RFC 8414 §2). Only what is real.

One document answers both well-known URLs (``/.well-known/openid-configuration`` and,
RFC 8414 §3, ``/.well-known/oauth-authorization-server``): RFC 8414 §2 lets an
authorization server include OpenID metadata, and §4 wants the two consistent. An
issuer with a path (``https://host/govid``) is looked up by RFC 8414 clients at
``https://host/.well-known/oauth-authorization-server/govid`` (§3.1): the reverse proxy
in front of GovID must send that URL here.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from idp.clients import models as clients
from idp.config import Settings
from idp.oidc.claims import CLAIMS_SUPPORTED, SCOPES_SUPPORTED

AUTH_METHODS = list(clients.AUTH_METHODS)


def metadata(settings: Settings) -> dict[str, Any]:
    iss = settings.issuer
    return {
        "issuer": iss,
        "authorization_endpoint": f"{iss}/authorize",
        "token_endpoint": f"{iss}/token",
        "userinfo_endpoint": f"{iss}/userinfo",
        "jwks_uri": f"{iss}/jwks",
        "revocation_endpoint": f"{iss}/revoke",
        "introspection_endpoint": f"{iss}/introspect",
        "end_session_endpoint": f"{iss}/end_session",
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        # No userinfo_signing_alg_values_supported: userinfo is plain JSON (OIDC Core
        # §5.3.2); an empty list told RPs nothing and some read it as an error.
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        # RFC 8414 §2: MUST be present when private_key_jwt is listed for the endpoint.
        "revocation_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "introspection_endpoint_auth_methods_supported": list(clients.CONFIDENTIAL_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "acr_values_supported": [settings.acr_level1, settings.acr_level2],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": ["th", "en"],
        "claims_locales_supported": ["th", "en"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
    }


def metadata_bytes(settings: Settings) -> bytes:
    """Serialised once per issuer and level names (they do not change while serving)."""
    return _cached(settings.issuer, settings.acr_level1, settings.acr_level2)


@lru_cache(maxsize=8)
def _cached(issuer: str, acr1: str, acr2: str) -> bytes:
    settings = Settings.model_construct(issuer=issuer, acr_level1=acr1, acr_level2=acr2)
    return json.dumps(metadata(settings)).encode()
