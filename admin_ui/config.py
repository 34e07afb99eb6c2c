"""The console's settings (environment, prefix ADMIN_UI_); no import-time globals."""

from __future__ import annotations

import base64
import hashlib
from functools import cached_property
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SESSION_SECRET = "dev-admin-ui-session-secret-change-me-0000"  # noqa: S105
DEV_CLIENT_SECRET = "dev-admin-ui-client-secret"  # noqa: S105
CLIENT_ID = "govid-admin-console"
ADMIN_SCOPES = "openid profile admin:accounts admin:clients admin:audit"


class InsecureSettingsError(ValueError):
    """Raised when settings outside dev still hold a development default."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADMIN_UI_", env_file=None, extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    # GovID's issuer (discovery at {issuer}/.well-known/openid-configuration).
    issuer: str = "http://127.0.0.1:8000"
    # Where the console is reached; the redirect and back-channel URIs derive from it.
    base_url: str = "http://127.0.0.1:8001"
    client_id: str = CLIENT_ID
    client_secret: str = DEV_CLIENT_SECRET
    # Signs the session cookie and (through HKDF-like derivation) encrypts the stored
    # tokens. At least 32 characters outside dev.
    session_secret: str = DEV_SESSION_SECRET
    # The console's own session store: a SQLAlchemy URL (never GovID's database) or
    # redis://... .
    store_url: str = "sqlite:///var/admin_ui.db"
    acr: str = "urn:govid:acr:2"
    scopes: str = ADMIN_SCOPES
    # A console session lives at most this long (GovID's level-2 idle limit ends admin
    # power earlier: the API then answers insufficient-assurance).
    session_ttl: int = 8 * 3600
    http_timeout: float = 10.0

    def model_post_init(self, _ctx) -> None:
        self.issuer = self.issuer.rstrip("/")
        self.base_url = self.base_url.rstrip("/")
        if self.env == "dev":
            return
        problems = [
            name
            for name, value, dev in (
                ("ADMIN_UI_SESSION_SECRET", self.session_secret, DEV_SESSION_SECRET),
                ("ADMIN_UI_CLIENT_SECRET", self.client_secret, DEV_CLIENT_SECRET),
            )
            if value == dev
        ]
        if problems:
            raise InsecureSettingsError(
                f"{', '.join(problems)} still hold the built-in development value; "
                f"set your own secret(s) when ADMIN_UI_ENV={self.env}"
            )
        if len(self.session_secret) < 32:
            raise InsecureSettingsError("ADMIN_UI_SESSION_SECRET must be at least 32 characters")
        if self.env == "prod" and not (
            self.issuer.startswith("https://") and self.base_url.startswith("https://")
        ):
            raise InsecureSettingsError(
                "ADMIN_UI_ISSUER and ADMIN_UI_BASE_URL must use https when ADMIN_UI_ENV=prod"
            )

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/callback"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.base_url}/backchannel-logout"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def _derive(self, purpose: str) -> bytes:
        return hashlib.sha256(f"govid-admin-ui/{purpose}\0{self.session_secret}".encode()).digest()

    @cached_property
    def cookie_key(self) -> bytes:
        return self._derive("cookie")

    @cached_property
    def token_key(self) -> bytes:
        """AES-256-GCM key for the stored tokens (base64 for Fernet-like use)."""
        return self._derive("tokens")

    @cached_property
    def token_key_b64(self) -> str:
        return base64.urlsafe_b64encode(self.token_key).decode()
