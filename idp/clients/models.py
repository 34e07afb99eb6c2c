"""OAuth 2.0 / OIDC clients (relying parties and machine clients)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, JSONType, UTCDateTime, new_uuid, utcnow

# How a client authenticates at the token, revocation and introspection endpoints (RFC 7591
# §2 token_endpoint_auth_method): the one list. Discovery, the Authlib grants and
# endpoints, the admin API's schema and this table's check all follow it.
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
CONFIDENTIAL_METHODS = (*SECRET_METHODS, "private_key_jwt")  # clients that hold a credential
AUTH_METHODS = (*CONFIDENTIAL_METHODS, "none")  # none: a public client, with PKCE


class Client(Base):
    __tablename__ = "client"
    __table_args__ = (
        CheckConstraint(
            "token_endpoint_auth_method IN (" + ", ".join(f"'{m}'" for m in AUTH_METHODS) + ")",
            name="auth_method",
        ),
        CheckConstraint("status IN ('active', 'disabled')", name="status"),
        CheckConstraint("id_token_signed_response_alg IN ('RS256', 'ES256')", name="id_token_alg"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    client_id: Mapped[str] = mapped_column(String(128), unique=True)
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agency.id", ondelete="RESTRICT"), index=True
    )
    name_th: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255))
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(32), default="client_secret_basic"
    )
    # SHA-256 hex of a >=256-bit random secret; compared in constant time. A slow
    # password hash is not needed for high-entropy secrets (decision 0008).
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    jwks: Mapped[dict | None] = mapped_column(JSONType)  # for private_key_jwt
    redirect_uris: Mapped[list[str]] = mapped_column(JSONType, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSONType, default=list)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    # The app's own privacy notice (OIDC Dynamic Client Registration 1.0 §2 policy_uri),
    # https only; linked at consent beside its agency's (OIDC Core §3.1.2.4).
    policy_uri: Mapped[str | None] = mapped_column(String(2000))
    backchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=True)
    grant_types: Mapped[list[str]] = mapped_column(
        JSONType, default=lambda: ["authorization_code", "refresh_token"]
    )
    scopes: Mapped[list[str]] = mapped_column(
        JSONType, default=lambda: ["openid", "profile", "email", "govid"]
    )
    min_acr: Mapped[str | None] = mapped_column(String(128))
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(8), default="RS256")
    access_token_ttl: Mapped[int | None] = mapped_column(Integer)
    refresh_token_ttl: Mapped[int | None] = mapped_column(Integer)
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_citizen_id: Mapped[bool] = mapped_column(Boolean, default=False)
    # A resource server may introspect tokens issued to other clients (RFC 7662 §4).
    resource_server: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="active")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"
