"""Request and response bodies for API resources (RFC 8707)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from idp.admin.schemas import AgencyRef, Code, In, Name, Uri

# RFC 6749 §3.3 scope-token
ScopeToken = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21\x23-\x5b\x5d-\x7e]+$")
]
SharedWith = Literal["agency", "subtree", "all"]


class ApiOut(BaseModel):
    id: uuid.UUID
    identifier: str = Field(description="The `aud` of its tokens and the `resource` value")
    agency: AgencyRef
    name_th: str
    name_en: str
    scopes: list[str]
    shared_with: SharedWith = Field(
        description="Whose apps may be given its scopes: its agency's, its subtree's, all"
    )
    introspection: bool = Field(description="May it introspect the tokens issued for it")
    introspection_client_id: str | None = Field(
        description="The client id the API authenticates with at /introspect"
    )
    status: Literal["active", "disabled"]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ApiWithSecret(ApiOut):
    introspection_client_secret: str | None = Field(
        None, description="Shown once (creation, introspection turned on); stored as a hash"
    )


class ApiSecret(BaseModel):
    api: ApiOut
    introspection_client_secret: str = Field(description="Shown once; the old one stops now")


class ApiCreate(In):
    agency: Code
    identifier: Uri = Field(description="Absolute URI without fragment (RFC 8707 §2)")
    name_th: Name
    name_en: Name
    scopes: list[ScopeToken] = Field(min_length=1, max_length=50)
    shared_with: SharedWith = "agency"
    introspection: bool = True

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "agency": "moi-dopa",
                    "identifier": "https://api.dopa.go.th/population/",
                    "name_th": "ทะเบียนราษฎร",
                    "name_en": "Population registry",
                    "scopes": ["dopa.population:read"],
                    "shared_with": "all",
                }
            ]
        },
    )


class ApiPatch(In):
    name_th: Name | None = None
    name_en: Name | None = None
    scopes: list[ScopeToken] | None = Field(None, min_length=1, max_length=50)
    shared_with: SharedWith | None = None
    introspection: bool | None = None

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"shared_with": "subtree"}]}
    )
