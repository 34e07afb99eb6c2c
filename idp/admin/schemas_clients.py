"""Request and response bodies for clients and imports."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from idp.admin.schemas import AgencyRef, Code, In, Name, Text, Uri
from idp.clients.models import AUTH_METHODS

AuthMethod = Literal[AUTH_METHODS]  # type: ignore[valid-type]  # the one list: clients.models
GrantType = Literal["authorization_code", "refresh_token", "client_credentials"]
IdTokenAlg = Literal["RS256", "ES256"]
# A token lifetime in seconds; the server's maximum (IDP_ACCESS_TOKEN_TTL,
# IDP_REFRESH_TOKEN_TTL) is checked by the service: above it is 422 with code
# lifetime_above_maximum.
Lifetime = Annotated[int, Field(ge=60, le=10 * 365 * 86400)]


def _default_grants() -> list[GrantType]:
    return ["authorization_code", "refresh_token"]


class ClientOut(BaseModel):
    client_id: str
    agency: AgencyRef
    name_th: str
    name_en: str
    auth_method: AuthMethod
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: str | None
    policy_uri: str | None = Field(
        None, description="The app's privacy notice, linked at consent (OIDC Registration §2)"
    )
    grant_types: list[str]
    scopes: list[str]
    min_acr: str | None
    id_token_signed_response_alg: IdTokenAlg = Field(
        description="How this client's ID tokens are signed (OIDC Registration §2)"
    )
    access_token_ttl: int | None = Field(description="Seconds; null: the server's default")
    refresh_token_ttl: int | None = Field(description="Seconds; null: the server's default")
    first_party: bool
    status: Literal["active", "disabled"]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ClientCreated(ClientOut):
    client_secret: str | None = Field(None, description="Shown once; stored only as a hash")


class ClientSecret(BaseModel):
    client: ClientOut
    client_secret: str = Field(description="Shown once; the old secret stops working now")


class ClientCreate(In):
    agency: Code
    name_th: Name
    name_en: Name
    auth_method: AuthMethod = "client_secret_basic"
    grant_types: list[GrantType] = Field(default_factory=_default_grants, max_length=3)
    redirect_uris: list[Uri] = Field(default_factory=list, max_length=20)
    post_logout_redirect_uris: list[Uri] = Field(default_factory=list, max_length=20)
    backchannel_logout_uri: Uri | None = None
    policy_uri: Uri | None = Field(None, description="The app's privacy notice; https")
    scopes: list[Text] = Field(
        default_factory=lambda: ["openid", "profile", "email", "govid"], max_length=20
    )
    min_acr: Text | None = None
    id_token_signed_response_alg: IdTokenAlg = "RS256"
    access_token_ttl: Lifetime | None = None
    refresh_token_ttl: Lifetime | None = None
    first_party: bool = False
    jwks: dict[str, Any] | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "agency": "moi-dopa",
                    "name_th": "ระบบลา",
                    "name_en": "Leave system",
                    "redirect_uris": ["https://leave.dopa.go.th/oidc/callback"],
                    "backchannel_logout_uri": "https://leave.dopa.go.th/oidc/logout",
                    "min_acr": "urn:govid:acr:2",
                }
            ]
        },
    )


class ClientPatch(In):
    name_th: Name | None = None
    name_en: Name | None = None
    redirect_uris: list[Uri] | None = Field(None, max_length=20)
    post_logout_redirect_uris: list[Uri] | None = Field(None, max_length=20)
    backchannel_logout_uri: Uri | None = Field(None, description="null removes it")
    policy_uri: Uri | None = Field(None, description="https; null removes it")
    scopes: list[Text] | None = Field(None, max_length=20)
    min_acr: Text | None = Field(None, description="null removes it")
    grant_types: list[GrantType] | None = Field(None, max_length=3)
    id_token_signed_response_alg: IdTokenAlg | None = None
    access_token_ttl: Lifetime | None = Field(None, description="null: the server's default")
    refresh_token_ttl: Lifetime | None = Field(None, description="null: the server's default")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"min_acr": "urn:govid:acr:2"},
                {"id_token_signed_response_alg": "ES256", "refresh_token_ttl": 3600},
            ]
        },
    )


# ------------------------------------------------------------------------------ imports


class ImportRowError(BaseModel):
    row: int = Field(description="1-based data row (header excluded)")
    field: str
    message: str


class ImportReport(BaseModel):
    import_id: str
    dry_run: bool
    mode: Literal["all_or_nothing", "per_row"]
    rows: int
    valid: int
    created: int
    failed: int
    errors: list[ImportRowError]
    activation_tokens: list[dict[str, str]] = Field(
        default_factory=list,
        description="email → activation token for rows without a password (shown once)",
    )
    errors_truncated: bool = False


class ImportJobOut(BaseModel):
    job_id: str
    status: Literal["queued", "running", "done", "failed"]
    dry_run: bool
    mode: Literal["all_or_nothing", "per_row"]
    phase: Literal["validate", "write"] = Field(description="validate, then write")
    done: int = Field(description="Rows of the current phase done")
    total: int = Field(description="Rows in the file")
    stale: bool = Field(description="No progress for 5 minutes: its process may have stopped")
    error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    result: ImportReport | None = Field(
        None, description="When done; activation tokens are in the first answer only"
    )
