"""JSON logs with request ids (issue 21)."""

from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient

from idp import logs, migrate
from idp.main import create_app
from tests.conftest import make_settings


def _app(tmp_path):
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    migrate.upgrade(url)
    return create_app(make_settings(url), start_workers=False)


def test_request_id_accepted_from_the_proxy_or_made(tmp_path):
    with TestClient(_app(tmp_path)) as http:
        r = http.get("/healthz", headers={"X-Request-ID": "caddy-7f3a.1:2"})
        assert r.headers["x-request-id"] == "caddy-7f3a.1:2"
        for bad in ("two words", "x" * 129, 'a"b', "a\tb", b"\xe0\xb8\x89"):
            r = http.get(
                "/healthz",
                headers=[(b"X-Request-ID", bad.encode() if isinstance(bad, str) else bad)],
            )
            made = r.headers["x-request-id"]
            assert made != bad and len(made) == 32 and made.isalnum()
        a, b = (http.get("/healthz").headers["x-request-id"] for _ in range(2))
        assert a != b


def _record(msg, *args, exc_info=None, name="idp.test"):
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, exc_info)


def test_json_line_with_request_and_client_id():
    fmt = logs.JsonFormatter()
    t1, t2 = logs.REQUEST_ID.set("req-1"), logs.CLIENT_ID.set(None)
    try:
        logs.note_client("app-42")
        line = fmt.format(_record("signed %s", "in"))
    finally:
        logs.CLIENT_ID.reset(t2)
        logs.REQUEST_ID.reset(t1)
    out = json.loads(line)
    assert "\n" not in line
    assert out["msg"] == "signed in" and out["level"] == "error" and out["logger"] == "idp.test"
    assert out["request_id"] == "req-1" and out["client_id"] == "app-42"
    assert out["ts"].endswith("+00:00")


def test_traceback_is_one_record():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        line = logs.JsonFormatter().format(_record("failed", exc_info=sys.exc_info()))
    assert line.count("\n") == 0
    out = json.loads(line)
    assert "Traceback" in out["exc"] and "RuntimeError: boom" in out["exc"]


def test_access_log_has_no_query_string():
    rec = _record(
        '%s - "%s %s HTTP/%s" %d',
        "10.0.0.1:5",
        "GET",
        "/end_session?id_token_hint=eyJsecret",
        "1.1",
        302,
        name="uvicorn.access",
    )
    for fmt in (logs.JsonFormatter(), logs.PlainFormatter()):
        line = fmt.format(rec)
        assert "eyJsecret" not in line and "/end_session" in line


def test_logging_config_is_valid():
    import logging.config

    for form in ("json", "plain"):
        logging.config.dictConfig(logs.logging_config(form, "info"))
    logging.config.dictConfig(logs.logging_config("plain", "warning"))
