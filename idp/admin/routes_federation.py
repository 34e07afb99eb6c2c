"""``/admin/v1/agencies/{id}/federation``: an agency's LDAP federation settings and a
connection test (``idp.directory.manage_federation``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from idp.admin.deps import CtxDep, IdempotencyKey, idempotent, respond
from idp.directory import manage_federation as svc
from idp.directory.agency_federation import FederationInput

router = APIRouter(prefix="/agencies/{agency_id}/federation", tags=["agencies"])
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Line = Annotated[str, StringConstraints(max_length=1024, pattern=_PRINTABLE)]


class FederationOut(BaseModel):
    agency_id: str
    enabled: bool
    servers: list[str]
    start_tls: bool
    allow_plain: bool
    ca_pem: bool = Field(description="Whether a CA bundle is stored (never the bundle)")
    bind_dn_template: str | None
    search_base: str | None
    search_filter: str | None
    service_bind_dn: str | None
    service_password: str | None = Field(description='"set" or null; never the password')
    timeout_seconds: int
    fallback_to_local: bool
    updated_by: str | None
    updated_at: str | None


class FederationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    servers: list[Line] = Field(min_length=1, max_length=10)
    start_tls: bool = True
    allow_plain: bool = False
    ca_pem: Annotated[str, StringConstraints(max_length=65536)] | None = Field(
        None, description="PEM CA bundle; null keeps the stored one, '' removes it"
    )
    bind_dn_template: Line | None = None
    search_base: Line | None = None
    search_filter: Line | None = None
    service_bind_dn: Line | None = None
    service_password: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        None, description="null keeps the stored one; '' removes it"
    )
    timeout_seconds: int = Field(5, ge=1, le=60)
    fallback_to_local: bool = False


class FederationTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: Line | None = Field(None, description="Also try this person's sign-in")
    password: Annotated[str, StringConstraints(max_length=1024)] | None = None


class FederationTestOut(BaseModel):
    ok: bool
    reason: str = Field(
        description="ok | unreachable | tls_failed | bind_refused | service_bind_refused | "
        "invalid_credentials | not_found | refused_by_outbound_policy | bad_configuration | ..."
    )
    server: str | None
    refused_servers: list[dict[str, str]]
    elapsed_ms: int


def _out(d: dict) -> dict:
    d = dict(d)
    d["updated_at"] = d["updated_at"].isoformat() if d.get("updated_at") else None
    return d


@router.get("", response_model=FederationOut, summary="An agency's LDAP federation settings")
def get_federation(ctx: CtxDep, agency_id: uuid.UUID):
    return respond(200, _out(svc.read(ctx, agency_id)))


@router.put("", response_model=FederationOut, summary="Set them (operators)")
def put_federation(ctx: CtxDep, agency_id: uuid.UUID, body: FederationIn):
    data = FederationInput(**{**body.model_dump(), "servers": tuple(body.servers)})
    return respond(200, _out(svc.configure(ctx, agency_id, data)))


@router.delete("", response_model=FederationOut, summary="Disable (operators)")
def delete_federation(ctx: CtxDep, agency_id: uuid.UUID):
    return respond(200, _out(svc.disable(ctx, agency_id)))


@router.post(
    "/test",
    response_model=FederationTestOut,
    summary="Bind to the stored servers with a timeout (operators; audited)",
)
def test_federation(
    request: Request,
    ctx: CtxDep,
    agency_id: uuid.UUID,
    body: FederationTestIn | None = None,
    key: IdempotencyKey = None,
):
    body = body or FederationTestIn()

    def run():
        result = svc.test_connection(ctx, agency_id, body.login, body.password)
        return respond(200, result.to_dict())

    # The idempotency record keys on a fingerprint without the password.
    return idempotent(request, ctx, key, {"login": body.login}, run)
