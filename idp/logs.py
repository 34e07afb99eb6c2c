"""Logs: one JSON object per line, or plain text for a terminal
(``IDP_LOG_FORMAT``), with the request id and, when known, the client id.

A request id comes from the proxy (``X-Request-ID``, accepted only if it is 1-128 of
``A-Z a-z 0-9 . _ : -``, so nobody can write a line break or a forged field into a log)
or is made here, and is returned in the answer's ``X-Request-ID``. Put the same id in the
proxy's access log to follow a request across both.

What never reaches a log: tokens, secrets, query strings (they carry ``id_token_hint``,
codes and personal data). Messages are the code's own; uvicorn's access log (off unless
``IDP_ACCESS_LOG``) is logged without the query string. A traceback is one record (the
``exc`` field of the same JSON line).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
import re
import secrets
from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("govid_request_id", default=None)
CLIENT_ID: ContextVar[str | None] = ContextVar("govid_client_id", default=None)

HEADER = b"x-request-id"
_VALID_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_VALID_CLIENT = re.compile(r"^[\x21-\x7e]{1,128}$")


# A request id only has to be unique (it is logged and returned, never a secret): a
# random per-process prefix and a counter, not 16 bytes from the kernel per request
# (os.urandom was ~5 % of a userinfo request's event-loop time; decision 0014).
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count()


def _new_prefix() -> None:  # a forked worker must not repeat its parent's ids
    global _ID_PREFIX
    _ID_PREFIX = secrets.token_hex(8)


os.register_at_fork(after_in_child=_new_prefix)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFFFFFF:016x}"


def note_client(client_id: str | None) -> None:
    """The client a request is for, once known (the audit module calls it)."""
    if client_id and _VALID_CLIENT.match(client_id):
        CLIENT_ID.set(client_id)


def request_id_of(scope) -> str:
    """The request's id: the proxy's ``X-Request-ID`` if acceptable, else a new one. The
    edge (``idp.edge``) keeps it in ``REQUEST_ID`` for every log record of the request and
    returns it in the answer's ``X-Request-ID``."""
    for name, value in scope["headers"]:
        if name == HEADER:
            if _VALID_ID.match(value):
                return value.decode()
            break
    return new_request_id()


class JsonFormatter(logging.Formatter):
    """One line: ts, level, logger, msg, request_id, client_id, exc (a traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _message(record),
        }
        rid, cid = REQUEST_ID.get(), CLIENT_ID.get()
        if rid:
            out["request_id"] = rid
        if cid:
            out["client_id"] = cid
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.msg, record.args = _message(record), None
        line = super().format(record)
        rid = REQUEST_ID.get()
        return f"{line} [request {rid}]" if rid else line


def _message(record: logging.LogRecord) -> str:
    if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
        client, method, path, version, status = record.args
        path = str(path).split("?", 1)[0]  # the query carries tokens and personal data
        return f'{client} - "{method} {path} HTTP/{version}" {status}'
    return record.getMessage()


def logging_config(log_format: str = "plain", level: str = "info") -> dict:
    """``logging.config.dictConfig`` form for GovID and uvicorn (``uvicorn.run(log_config=)``)."""
    formatter = "json" if log_format == "json" else "plain"
    handler = {
        "class": "logging.StreamHandler",
        "formatter": formatter,
        "stream": "ext://sys.stderr",
    }
    lvl = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "idp.logs.JsonFormatter"},
            "plain": {"()": "idp.logs.PlainFormatter"},
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": lvl},
        "loggers": {
            "uvicorn": {"handlers": [], "level": lvl, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": lvl, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": lvl, "propagate": True},
        },
    }


def configure(log_format: str = "plain", level: str = "info") -> None:
    import logging.config

    logging.config.dictConfig(logging_config(log_format, level))
