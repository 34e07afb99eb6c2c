"""JSON nesting depth (issue 17 item 6): our parsers bound it, and JSON too deep for
the standard library's decoder anywhere in a request is a 400 in the surface's format,
never a 500 (it was one for a client_assertion at /token and for WebAuthn bodies)."""

from __future__ import annotations

import base64
import io

import pytest
from fastapi.testclient import TestClient

from idp import json_depth, migrate
from idp.accounts.importing.rows import RowError, read_rows
from idp.main import create_app
from tests.conftest import make_settings

DEEP = "[" * 20_000  # past the interpreter's recursion limit; far inside 64 KiB


def test_loads_bounds_depth_without_recursion():
    assert json_depth.loads('{"a": [1, {"b": [2]}]}') == {"a": [1, {"b": [2]}]}
    nested = "[" * 33 + "]" * 33
    with pytest.raises(json_depth.JsonTooDeep, match="more than 32 levels"):
        json_depth.loads(nested)
    assert json_depth.loads("[" * 32 + "]" * 32, max_depth=32)
    with pytest.raises(ValueError, match="nested"):
        json_depth.loads(DEEP)


def test_an_import_row_nested_too_deeply_is_a_row_error():
    data = ('{"email": "a@x.go.th", "agency": "x"}\n' + '{"a": ' + DEEP + "\n").encode()
    rows = list(read_rows(io.BytesIO(data), "jsonl"))
    assert isinstance(rows[1], RowError) and "nested" in rows[1].message


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('depth') / 'idp.db'}"
    migrate.upgrade(url)
    with TestClient(create_app(make_settings(url), start_workers=False)) as c:
        yield c


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_deep_client_assertion_is_invalid_request(client):
    assertion = _b64('{"alg":"RS256"}') + "." + _b64(DEEP) + ".c2ln"
    r = client.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "x",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_a_deep_body_on_a_page_endpoint_is_a_400_page(client):
    r = client.post(
        "/mfa/webauthn/verify",
        content=DEEP.encode(),
        headers={"content-type": "application/json", "accept-language": "en"},
    )
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert "could not be read" in r.text


def test_a_deep_admin_body_is_bad_request(client):
    r = client.post(
        "/admin/v1/agencies", content=DEEP.encode(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["type"] == "urn:govid:problem:bad-request"
