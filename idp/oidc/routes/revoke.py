"""Token revocation (RFC 7009)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from idp.deps import DbDep, ServicesDep
from idp.oidc.routes.forms import FormDep, form_problem, make_ctx, oauth_request, with_no_store
from idp.oidc.server import server_for

router = APIRouter()


@router.post("/revoke")
def revoke(request: Request, db: DbDep, services: ServicesDep, form: FormDep) -> Response:
    problem = form_problem(request, form)
    if problem is not None:
        return problem
    ctx = make_ctx(request, db, services)
    server = server_for(ctx)
    req = oauth_request(request, form, ctx.issuer, query=[])
    return with_no_store(server.create_endpoint_response("revocation", req))
