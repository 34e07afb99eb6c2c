"""Request body limits against a real server (issue 17 item 6, idp/body_limit.py).

Each surface gets an oversized body two ways, over a raw socket so the test controls
what is sent: with ``Content-Length`` (the server must answer after a few KiB of a
64 MiB body), and chunked without the final chunk (the server must answer once the
bytes read pass the limit). Either way the client reads the answer while it has not
finished sending: a server that read the whole body first would never answer and the
read would time out. No timing is asserted.
"""

from __future__ import annotations

import json
import socket

import pytest

from idp import migrate
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY
from tests.server import base_env, serve

KIB = 1024
SMALL, ADMIN, IMPORT = 64 * KIB, 256 * KIB, 512 * KIB


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('limits') / 'idp.db'}"
    migrate.upgrade(url)
    env = base_env(
        IDP_DATABASE_URL=url, IDP_ENV="test", IDP_SECRET_KEY=TEST_SECRET_KEY,
        IDP_DATA_KEY=TEST_DATA_KEY, IDP_ARGON2_MEMORY_KIB="8192", IDP_ARGON2_TIME_COST="1",
        IDP_MAX_BODY_BYTES=str(SMALL), IDP_MAX_ADMIN_BODY_BYTES=str(ADMIN),
        IDP_MAX_IMPORT_BODY_BYTES=str(IMPORT),
    )  # fmt: skip
    with serve(env) as b:
        yield b


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=60)
    return s


def _head(path: str, ctype: str, extra: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: idp.test\r\nContent-Type: {ctype}\r\n"
        f"Accept-Language: th\r\n{extra}\r\n"
    ).encode()


def _answer(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one response (status, headers, body) from a server that closes after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def declared(base: str, path: str, ctype: str) -> tuple[int, dict[str, str], bytes]:
    """Declare 64 MiB, send 4 KiB of it, read the answer."""
    with _connect(base) as s:
        s.sendall(_head(path, ctype, f"Content-Length: {64 * KIB * KIB}\r\n") + b"a" * 4096)
        return _answer(s)


def chunked(base: str, path: str, ctype: str, limit: int) -> tuple[int, dict[str, str], bytes]:
    """Send limit + 32 KiB in 8 KiB chunks, never the last chunk, then read the answer."""
    with _connect(base) as s:
        s.sendall(_head(path, ctype, "Transfer-Encoding: chunked\r\n"))
        piece = b"a" * (8 * KIB)
        try:
            for _ in range(limit // len(piece) + 4):
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while we were still sending
        return _answer(s)


FORM = "application/x-www-form-urlencoded"
SURFACES = [
    # path, content type, limit, expected content type, check of the body
    ("/token", FORM, SMALL, "application/json", "oauth"),
    ("/revoke", FORM, SMALL, "application/json", "oauth"),
    ("/login", FORM, SMALL, "text/html", "page"),
    ("/authorize", FORM, SMALL, "text/html", "page"),
    ("/admin/v1/accounts", "application/json", ADMIN, "application/problem+json", "problem"),
    ("/admin/v1/imports", "text/csv", IMPORT, "application/problem+json", "problem"),
    ("/scim/v2/Users", "application/scim+json", ADMIN, "application/scim+json", "scim"),
]


def _check(status, headers, body, ctype, kind, limit):
    assert status == 413, body[:300]
    assert headers["content-type"].startswith(ctype)
    assert headers["connection"] == "close"
    text = body.decode()
    if kind == "oauth":  # RFC 6749 §5.2 has no code for it: invalid_request, status 413
        assert json.loads(text) == {
            "error": "invalid_request",
            "error_description": f"The request body is larger than {limit} bytes.",
        }
    elif kind == "problem":  # RFC 9457
        doc = json.loads(text)
        assert doc["type"] == "urn:govid:problem:body-too-large" and doc["status"] == 413
        assert doc["limit"] == limit
    elif kind == "scim":  # RFC 7644 §3.12
        doc = json.loads(text)
        assert doc["status"] == "413" and doc["schemas"] == [
            "urn:ietf:params:scim:api:messages:2.0:Error"
        ]
    else:  # the person's page, in their language (Accept-Language: th), with its CSP
        assert 'lang="th"' in text and "ข้อมูลที่ส่งมีขนาดใหญ่เกิน" in text
        assert "default-src 'none'" in headers["content-security-policy"]


@pytest.mark.parametrize(("path", "ctype", "limit", "answer", "kind"), SURFACES)
def test_a_declared_oversized_body_is_refused_before_it_is_sent(
    base, path, ctype, limit, answer, kind
):
    _check(*declared(base, path, ctype), answer, kind, limit)


@pytest.mark.parametrize(("path", "ctype", "limit", "answer", "kind"), SURFACES)
def test_a_chunked_oversized_body_is_refused_while_it_streams(
    base, path, ctype, limit, answer, kind
):
    status, headers, body = chunked(base, path, ctype, limit)
    if path in ("/admin/v1/imports", "/scim/v2/Users"):
        # These check the caller before reading the body: without a token the 401 comes
        # first, and the body is still never read (the in-process tests cover the 413
        # with a token).
        assert status == 401
        return
    _check(status, headers, body, answer, kind, limit)


def test_bodies_within_the_limit_still_reach_the_endpoints(base):
    with _connect(base) as s:
        form = b"grant_type=client_credentials"
        s.sendall(_head("/token", FORM, f"Content-Length: {len(form)}\r\n") + form)
        status, _headers, body = _answer(s)
    assert status == 401 and json.loads(body)["error"] == "invalid_client"
