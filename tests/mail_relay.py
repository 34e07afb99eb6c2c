"""An SMTP server for tests (aiosmtpd on a loopback port) that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import threading
from email.header import decode_header, make_header

from tests.waiting import poll


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[object, email.message.EmailMessage]] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope, msg))
        self.arrived.set()
        return "250 OK"

    def to(self, address: str, timeout: float = 20.0) -> list[email.message.EmailMessage]:
        """The messages whose envelope names ``address``, waiting up to ``timeout`` for one."""
        return poll(lambda: [m for env, m in self.messages if address in env.rcpt_tos], timeout)


def subject(msg) -> str:
    return str(make_header(decode_header(msg["Subject"])))
