"""Back-channel logout deliveries are retried with backoff until the RP accepts them."""

import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from idp.sessions.logout import MAX_ATTEMPTS, deliver_due
from idp.sessions.models import LogoutDelivery
from tests.server import free_port


class FlakyRP:
    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0
        rp = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length", 0)))
                rp.calls += 1
                self.send_response(503 if rp.calls <= rp.failures else 200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.port = free_port()
        self.srv = HTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


def test_failed_delivery_is_retried_with_backoff_then_done(db):
    rp = FlakyRP(failures=2)
    row = LogoutDelivery(
        client_id="c", uri=f"http://127.0.0.1:{rp.port}/bc", logout_token="header.payload.sig"
    )
    db.add(row)
    db.flush()
    factory = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
    with httpx.Client(timeout=5) as http:
        for attempt in (1, 2):
            assert deliver_due(factory, http) == 1
            db.refresh(row)
            assert row.attempts == attempt and row.done_at is None
            assert row.last_error == "HTTP 503" and row.next_try_at > dt.datetime.now(dt.UTC)
            # Not due yet: nothing is sent before the backoff expires.
            assert deliver_due(factory, http) == 0
            db.execute(update(LogoutDelivery).values(next_try_at=dt.datetime.now(dt.UTC)))
        assert deliver_due(factory, http) == 1
    db.refresh(row)
    assert row.done_at is not None and rp.calls == 3
    rp.srv.shutdown()


def test_unreachable_rp_gives_up_after_max_attempts(db):
    row = LogoutDelivery(
        client_id="c",
        uri=f"http://127.0.0.1:{free_port()}/bc",
        logout_token="t",
        attempts=MAX_ATTEMPTS - 1,
    )
    db.add(row)
    db.flush()
    factory = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
    with httpx.Client(timeout=2) as http:
        assert deliver_due(factory, http) == 1
        db.execute(update(LogoutDelivery).values(next_try_at=dt.datetime.now(dt.UTC)))
        assert deliver_due(factory, http) == 0  # abandoned, kept for the record
    db.expire_all()
    pending = db.scalars(select(LogoutDelivery).where(LogoutDelivery.id == row.id)).one()
    assert (
        pending.done_at is None
        and pending.attempts == MAX_ATTEMPTS
        and pending.last_error == "ConnectError"
    )
