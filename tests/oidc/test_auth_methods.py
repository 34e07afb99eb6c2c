"""One list of client authentication methods (idp/clients/models.py): what discovery
advertises is what the token, revocation and introspection endpoints accept, what the
admin API lets an agency register, and what the table allows."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from idp.admin.schemas_clients import AuthMethod, ClientCreate
from idp.clients.models import AUTH_METHODS, CONFIDENTIAL_METHODS, Client
from idp.config import Settings
from idp.oidc import discovery, endpoints, grants


def test_discovery_advertises_what_the_endpoints_accept():
    meta = discovery.metadata(Settings(_env_file=None, issuer="https://id.example"))
    assert meta["token_endpoint_auth_methods_supported"] == list(AUTH_METHODS)
    assert list(AUTH_METHODS) == grants.AuthorizationCodeGrant.TOKEN_ENDPOINT_AUTH_METHODS
    assert list(AUTH_METHODS) == grants.RefreshTokenGrant.TOKEN_ENDPOINT_AUTH_METHODS
    assert meta["revocation_endpoint_auth_methods_supported"] == list(AUTH_METHODS)
    assert list(AUTH_METHODS) == endpoints.RevocationEndpoint.CLIENT_AUTH_METHODS
    # A public client (none) can neither introspect nor use client_credentials.
    assert "none" not in CONFIDENTIAL_METHODS
    assert meta["introspection_endpoint_auth_methods_supported"] == list(CONFIDENTIAL_METHODS)
    assert list(CONFIDENTIAL_METHODS) == endpoints.IntrospectionEndpoint.CLIENT_AUTH_METHODS
    assert list(CONFIDENTIAL_METHODS) == grants.ClientCredentialsGrant.TOKEN_ENDPOINT_AUTH_METHODS


def test_the_admin_api_and_the_table_take_the_same_list():
    assert get_args(AuthMethod) == AUTH_METHODS
    (check,) = [c for c in Client.__table__.constraints if c.name == "ck_client_auth_method"]
    assert all(f"'{m}'" in str(check.sqltext) for m in AUTH_METHODS)
    base = {"agency": "moi", "name_th": "แอป", "name_en": "App"}
    for method in AUTH_METHODS:
        assert ClientCreate(**base, auth_method=method).auth_method == method
    with pytest.raises(ValidationError):
        ClientCreate(**base, auth_method="tls_client_auth")  # RFC 8705: not offered
