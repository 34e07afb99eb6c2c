"""Request and response bodies of ``/admin/v1`` (pydantic), with OpenAPI examples.

Request bodies forbid unknown fields: agency, status and roles cannot ride along in a
PATCH (no mass assignment); they change only through their own operations.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from idp.accounts.service import ALIASES_MAX, NAME_MAX, QUOTA_MAX_MB

T = TypeVar("T")
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control characters (no NUL for PostgreSQL)
Text = Annotated[str, StringConstraints(max_length=255, pattern=_PRINTABLE)]
Name = Annotated[str, StringConstraints(max_length=NAME_MAX, pattern=_PRINTABLE)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_PRINTABLE)]
Email = Annotated[str, StringConstraints(min_length=3, max_length=320, pattern=_PRINTABLE)]
Uri = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=_PRINTABLE)]
Link = Annotated[str, StringConstraints(max_length=2000, pattern=_PRINTABLE)]
Quota = Annotated[int, Field(gt=0, le=QUOTA_MAX_MB)]


def _to_utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


# A date-time with a time zone, as UTC; one whose UTC form does not exist
# (0001-01-01T00:00:00+01:00, 9999-12-31T23:59:59-01:00) is an invalid value.
Instant = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemError(BaseModel):
    field: str
    message: str
    code: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    code: str | None = None
    field: str | None = None
    errors: list[ProblemError] | None = None
    scopes: list[str] | None = Field(
        None, description="The scopes concerned (insufficient-scope, scope-not-held)"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:govid:problem:not-found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "no such account",
                    "code": "not_found",
                    "field": "account",
                }
            ]
        }
    )


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as ?cursor= for the next page; null on the last page"
    )


class AgencyRef(BaseModel):
    id: uuid.UUID
    code: str


# ---------------------------------------------------------------------------- agencies


class AgencyOut(BaseModel):
    id: uuid.UUID
    code: str
    name_th: str
    name_en: str
    parent_id: uuid.UUID | None
    depth: int
    mail_domains: list[str]
    mailbox_quota_mb: int
    attachment_limit_mb: int
    helpdesk_email: str | None = None
    helpdesk_phone: str | None = None
    helpdesk_url: str | None = None
    privacy_url: str | None = None
    status: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class AgencyCreate(In):
    code: Code
    name_th: Name
    name_en: Name
    parent: Code | None = Field(None, description="Parent agency code; none for a ministry")
    mail_domains: list[Text] = Field(default_factory=list, max_length=50)
    mailbox_quota_mb: Quota | None = None
    attachment_limit_mb: Quota | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "moi-dopa",
                    "name_th": "กรมการปกครอง",
                    "name_en": "Department of Provincial Administration",
                    "parent": "moi",
                    "mail_domains": ["dopa.go.th"],
                }
            ]
        },
    )


class AgencyPatch(In):
    name_th: Name | None = None
    name_en: Name | None = None
    mail_domains: list[Text] | None = Field(None, max_length=50)
    mailbox_quota_mb: Quota | None = None
    attachment_limit_mb: Quota | None = None
    helpdesk_email: Annotated[str, StringConstraints(max_length=320, pattern=_PRINTABLE)] | None = (
        Field(None, description="Helpdesk mail address people are told to write to; '' clears")
    )
    helpdesk_phone: Annotated[str, StringConstraints(max_length=40, pattern=_PRINTABLE)] | None = (
        Field(None, description="Helpdesk phone number; '' clears")
    )
    helpdesk_url: Link | None = Field(None, description="Helpdesk page (https://); '' clears")
    privacy_url: Link | None = Field(None, description="PDPA privacy notice (https://); '' clears")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name_en": "Renamed Department"},
                {"helpdesk_email": "helpdesk@dopa.go.th", "helpdesk_phone": "02 791 7000"},
            ]
        },
    )


class AgencyMove(In):
    parent_id: uuid.UUID | None = Field(description="New parent; null makes it a ministry")


# ---------------------------------------------------------------------------- accounts


class AccountOut(BaseModel):
    id: uuid.UUID
    email: str
    agency: AgencyRef
    given_name_th: str
    family_name_th: str
    given_name_en: str
    family_name_en: str
    locale: str
    status: Literal["active", "suspended", "deleted"]
    citizen_id_last4: str | None
    mailbox_quota_mb: int
    attachment_limit_mb: int
    aliases: list[str]
    has_password: bool
    has_second_factor: bool = Field(
        False, description="A confirmed authenticator app or security key"
    )
    locked: bool = Field(False, description="Locked by too many failed sign-ins just now")
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None
    version: int
    protected: Literal["operator", "role_outside_scope"] | None = Field(
        None,
        description=(
            "Why you may not change this account (reset, suspend, delete, end sessions, "
            "addresses): it holds an operator role, or a role over an agency outside your "
            "authority. Null when you may."
        ),
    )


class AccountCreated(AccountOut):
    activation_token: str | None = Field(
        None, description="Shown once, when no initial password was given"
    )
    activation_expires_at: dt.datetime | None = None


class AccountCreate(In):
    email: Email
    agency: Code = Field(description="Agency code")
    given_name_th: Name = ""
    family_name_th: Name = ""
    given_name_en: Name = ""
    family_name_en: Name = ""
    locale: Literal["th", "en"] = "th"
    citizen_id: Annotated[str, StringConstraints(max_length=32, pattern=_PRINTABLE)] | None = None
    password: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        None,
        description="Initial password (15+ characters); omit to get an activation link token",
        json_schema_extra={"writeOnly": True},
    )
    mailbox_quota_mb: Quota | None = None
    attachment_limit_mb: Quota | None = None
    aliases: list[Email] = Field(default_factory=list, max_length=ALIASES_MAX)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "somchai.j@dopa.go.th",
                    "agency": "moi-dopa",
                    "given_name_th": "สมชาย",
                    "family_name_th": "ใจดี",
                    "given_name_en": "Somchai",
                    "family_name_en": "Jaidee",
                    "aliases": ["somchai@dopa.go.th"],
                }
            ]
        },
    )


class AccountPatch(In):
    given_name_th: Name | None = None
    family_name_th: Name | None = None
    given_name_en: Name | None = None
    family_name_en: Name | None = None
    locale: Literal["th", "en"] | None = None
    mailbox_quota_mb: Quota | None = None
    attachment_limit_mb: Quota | None = None
    aliases: list[Email] | None = Field(None, max_length=ALIASES_MAX)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"family_name_en": "Jaidee-Suk", "mailbox_quota_mb": 10240}]
        },
    )


class SuspendIn(In):
    reason: Annotated[str, StringConstraints(max_length=200, pattern=_PRINTABLE)] = ""


class PasswordResetIn(In):
    password: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        None,
        description="New password; omit to clear it and get a reset link token",
        json_schema_extra={"writeOnly": True},
    )


class PasswordResetOut(BaseModel):
    account: AccountOut
    link_token: str | None = Field(None, description="Shown once")
    link_expires_at: dt.datetime | None = None
    sessions_ended: int


class MfaResetOut(BaseModel):
    account: AccountOut
    credentials_removed: int
    sessions_ended: int


class SessionOut(BaseModel):
    sid: str
    acr: str
    amr: list[str]
    auth_time: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    ip: str | None
    user_agent: str | None
    clients: list[str]


class SessionsEnded(BaseModel):
    sessions_ended: int


# -------------------------------------------------------------------------- role grants


class RoleGrantOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    role: Literal["operator", "agency_admin", "auditor"]
    agency: AgencyRef
    granted_by: uuid.UUID | None
    expires_at: dt.datetime | None
    created_at: dt.datetime


class RoleGrantCreate(In):
    account_id: uuid.UUID
    role: Literal["operator", "agency_admin", "auditor"]
    agency_id: uuid.UUID
    expires_at: Instant | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account_id": "6f1c2d3e-0000-4000-8000-000000000001",
                    "role": "auditor",
                    "agency_id": "6f1c2d3e-0000-4000-8000-0000000000aa",
                    "expires_at": "2027-03-31T17:00:00Z",
                }
            ]
        },
    )


def dump(model: type[BaseModel], value: Any) -> dict[str, Any]:
    return model.model_validate(value).model_dump(mode="json")
