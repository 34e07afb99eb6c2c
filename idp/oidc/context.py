"""Per-request context handed to the Authlib server and grants (no globals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from idp.audit.service import NewEvent
from idp.config import Settings
from idp.keys.service import KeyRing
from idp.services import Services
from idp.tokens.rotation import Family


class NeedsDatabase(Exception):  # noqa: N818 - a control-flow signal, not an error
    """An inline token request (run on the event loop, without a session) reached for the
    database; the route runs it again from the start in the thread pool, with one."""


@dataclass(frozen=True, slots=True)
class ReadAhead:
    """An access token's liveness read on the event loop before Authlib's introspection
    runs (``idp.oidc.routes.introspect``): ``claims`` None when the signature failed."""

    token: str
    claims: dict[str, Any] | None
    active: bool


@dataclass(frozen=True, slots=True)
class RefreshAhead:
    """A refresh token's family read on the event loop before Authlib's refresh grant
    runs (``idp.oidc.routes.token``): ``family`` None when no such token exists."""

    value: str
    family: Family | None


class OidcContext:
    """What a request's grants and endpoints may use.

    ``db=None`` makes an *inline* context (``idp.oidc.routes.token``): any use of ``db``
    raises ``NeedsDatabase`` before anything was written, and the audit events the request
    produces collect in ``pending_audit`` for the route to commit before it answers.
    """

    def __init__(
        self,
        db: Session | None,
        services: Services,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> None:
        self._db = db
        self.services = services
        self.ip = ip
        self.user_agent = user_agent
        self.pending_audit: list[NewEvent] | None = [] if db is None else None
        self.read_ahead: ReadAhead | None = None
        self.refresh_ahead: RefreshAhead | None = None

    @property
    def db(self) -> Session:
        if self._db is None:
            raise NeedsDatabase
        return self._db

    @property
    def has_db(self) -> bool:
        return self._db is not None

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def keys(self) -> KeyRing:
        return self.services.keys

    @property
    def issuer(self) -> str:
        return self.services.settings.issuer

    def endpoint(self, path: str) -> str:
        return f"{self.issuer}{path}"
