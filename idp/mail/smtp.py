"""The SMTP relay (DESIGN rule 4: one small Protocol, one real implementation).

TLS: ``starttls`` (RFC 3207, the submission port 587) or ``tls`` (implicit TLS, RFC 8314
§3.3, port 465) verify the relay's certificate and host name against the system's CAs
or ``IDP_SMTP_CA_FILE``; ``none`` is for a relay on the same host or network segment.
Every socket operation is bounded by ``IDP_SMTP_TIMEOUT_SECONDS``."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from idp.config import Settings

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    def __init__(self, settings: Settings):
        self.host = settings.smtp_host
        self.port = settings.smtp_port or DEFAULT_PORTS[settings.smtp_tls]
        self.tls = settings.smtp_tls
        self.timeout = settings.smtp_timeout_seconds
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.ca_file = settings.smtp_ca_file or None

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def send(self, message: EmailMessage) -> None:
        if self.tls == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.tls == "starttls":
                client.starttls(context=self._context())
            if self.username:
                client.login(self.username, self.password)
            client.send_message(message)


def mailer_for(settings: Settings) -> Mailer | None:
    """The relay, or None when no mail is configured (``IDP_SMTP_HOST`` empty)."""
    return SmtpMailer(settings) if settings.smtp_host else None
