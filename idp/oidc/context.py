"""Per-request context handed to the Authlib server and grants (no globals)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.config import Settings
from idp.keys.service import KeyRing
from idp.services import Services


@dataclass
class OidcContext:
    db: Session
    services: Services
    ip: str | None = None
    user_agent: str | None = None

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
