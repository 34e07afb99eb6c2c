"""Sending after commit, off the request's thread.

``send_after_commit`` keeps the message with the session; when the session's outermost
transaction commits, the message goes to a small pool of sender threads. A rollback of
the transaction (or of the savepoint) that composed it drops it. The change never waits
for the relay: a relay that is down or slow costs a sender thread at most
``IDP_SMTP_TIMEOUT_SECONDS`` per socket operation, and the failure is logged and
counted, never raised. The message has no retry queue: a notice lost while the relay
is down is in the log (``mail notice ... not sent``) and in the counter."""

from __future__ import annotations

import logging
import smtplib
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from email.message import EmailMessage

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from idp import metrics
from idp.mail.smtp import Mailer

log = logging.getLogger(__name__)

_PENDING = "govid_mail_pending"
_HOOKED = "govid_mail_hooked"
_SENDERS = 2
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_inflight: set[Future] = set()


def _executor() -> ThreadPoolExecutor:
    # Made at the first notice (not at import): a process that sends none has no threads.
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_SENDERS, thread_name_prefix="govid-mail")
        return _pool


def send_after_commit(
    db: Session, mailer: Mailer, message: EmailMessage, *, kind: str, account: str
) -> None:
    """Send ``message`` once ``db``'s transaction commits. ``kind`` (a fixed word) and
    ``account`` (an id, not the address) only label the log line and the counter."""
    if not db.info.get(_HOOKED):
        event.listen(db, "after_commit", _flush)
        event.listen(db, "after_soft_rollback", _drop)
        db.info[_HOOKED] = True
    owner = db.get_nested_transaction() or db.get_transaction()
    db.info.setdefault(_PENDING, []).append((owner, mailer, message, kind, account))


def _within(tx: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while tx is not None:
        if tx is ended:
            return True
        tx = tx.parent
    return False


def _drop(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [p for p in pending if not _within(p[0], previous_transaction)]


def _flush(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    for _owner, mailer, message, kind, account in pending or ():
        try:
            future = _executor().submit(deliver, mailer, message, kind, account)
            with _pool_lock:
                _inflight.add(future)
            future.add_done_callback(_finished)
        except RuntimeError:  # the interpreter is shutting down
            _failed(kind, account, "shutting down")


def deliver(mailer: Mailer, message: EmailMessage, kind: str, account: str) -> bool:
    """One attempt; True when the relay accepted the message."""
    try:
        mailer.send(message)
    except (OSError, smtplib.SMTPException) as exc:
        # The class and the relay's reply code only: a reply's text can echo what was
        # sent (addresses, the AUTH exchange).
        code = getattr(exc, "smtp_code", None)
        _failed(kind, account, f"{type(exc).__name__}{f' {code}' if code else ''}")
        return False
    except Exception as exc:  # noqa: BLE001 - a sender thread must never die silently
        _failed(kind, account, type(exc).__name__)
        return False
    metrics.child(metrics.MAIL_SENT, kind, "sent").inc()
    log.info("mail notice %s sent for account %s", kind, account)
    return True


def _finished(future: Future) -> None:
    with _pool_lock:
        _inflight.discard(future)


def _failed(kind: str, account: str, why: str) -> None:
    metrics.child(metrics.MAIL_SENT, kind, "failed").inc()
    log.warning("mail notice %s for account %s not sent: %s", kind, account, why)


def wait_idle(timeout: float = 30.0) -> None:
    """Wait until the notices handed over so far are sent or failed (tests, shutdown)."""
    with _pool_lock:
        running = list(_inflight)
    wait(running, timeout=timeout)
