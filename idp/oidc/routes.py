"""HTTP routes of the OpenID Provider. Thin: build the request, call Authlib or the
authorize decisions, map the outcome to a response."""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from idp.agencies.service import get as get_agency
from idp.deps import DbDep, ServicesDep
from idp.oidc import authorize as authz
from idp.oidc import discovery
from idp.oidc.context import NeedsDatabase, OidcContext
from idp.oidc.reads import read_session
from idp.oidc.server import GovIDOAuth2Request, server_for
from idp.ratelimit import limit_token
from idp.resources import service as api_resources
from idp.services import Services
from idp.sessions import service as sessions
from idp.web.i18n import translator
from idp.web.login_page import login_page, privacy_notice
from idp.web.render import Pages, redirect_target
from idp.web.security import form_target_source
from idp.web.signing import BadSignature, Signer

router = APIRouter()
INTERACTION_TTL = 600
INTERACTION_PAGES = {"login": "/login", "mfa": "/mfa", "enrol": "/mfa/enrol"}


MAX_FORM_FIELDS = 1000  # Starlette's own limit for request.form()


class MalformedForm(ValueError):
    """A protocol request body that cannot be read; answered as ``invalid_request``
    (RFC 6749 §5.2) by ``malformed_form_response`` on every route."""


async def malformed_form_response(_request: Request, exc: Exception) -> Response:
    body = {"error": "invalid_request", "error_description": str(exc)}
    return JSONResponse(body, status_code=400, headers=NO_STORE)


async def form_pairs(request: Request) -> list[tuple[str, str]]:
    """Parse a urlencoded body before the sync route runs (Authlib is synchronous).

    Protocol requests are ``application/x-www-form-urlencoded`` (RFC 6749 §3.2, Appendix
    B): the standard library's parser reads them in a fraction of a multipart parser's
    time; ``+`` is a space, percent-escapes are UTF-8 (undecodable bytes become U+FFFD,
    which matches no client, code or token)."""
    if request.method != "POST":
        return []
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        body = (await request.body()).decode("utf-8", "replace")
        try:
            return parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except ValueError as exc:
            raise MalformedForm(f"More than {MAX_FORM_FIELDS} form fields.") from exc
    if not ctype.startswith("multipart/form-data"):
        return []
    form = await request.form()
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


FormDep = Annotated[list[tuple[str, str]], Depends(form_pairs)]


def form_problem(request: Request, form: list[tuple[str, str]]) -> Response | None:
    """What RFC 6749 asks of every token-endpoint style request (also /revoke and
    /introspect): no parameter twice (§3.2), and one way of authenticating the client
    (§2.3: "MUST NOT use more than one authentication method in each request")."""
    names: set[str] = set()
    repeated: set[str] = set()
    for name, _ in form:  # linear: a body may carry up to MAX_FORM_FIELDS fields
        (repeated if name in names else names).add(name)
    if repeated:
        return oauth_error_response(
            InvalidRequestError(description=f"Repeated parameter: {', '.join(sorted(repeated))}.")
        )
    basic = request.headers.get("authorization", "")[:6].lower() == "basic "
    if basic + ("client_secret" in names) + ("client_assertion" in names) > 1:
        return oauth_error_response(
            InvalidRequestError(
                description="More than one client authentication method in the request."
            )
        )
    return None


def pages(request: Request) -> Pages:
    return request.app.state.pages


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def make_ctx(request: Request, db, services) -> OidcContext:
    return OidcContext(
        db=db,
        services=services,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )


def oauth_request(
    request: Request,
    form: list[tuple[str, str]],
    issuer: str,
    query: list[tuple[str, str]] | None = None,
) -> GovIDOAuth2Request:
    q = list(request.query_params.multi_items()) if query is None else query
    # The path from the ASGI scope: ``request.url`` would parse a whole URL per request.
    return GovIDOAuth2Request(
        request.method,
        f"{issuer}{request.scope['path']}",
        query=q,
        form=form,
        headers=request.headers,
    )


def interaction_signer(services) -> Signer:
    return Signer(services.settings.secret_keys, "interaction")


# ------------------------------------------------------------------ discovery and keys


# Discovery and JWKS are fetched by every relying party and resource server: prebuilt
# bytes, served on the event loop as plain Starlette routes (see ``FAST_ROUTES``).
async def openid_configuration(request: Request) -> Response:
    return Response(
        discovery.metadata_bytes(request.app.state.services.settings),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


async def jwks(request: Request) -> Response:
    # Keys are loaded at startup and re-read every 30 s (one small query).
    return Response(
        request.app.state.services.keys.jwks_bytes(),
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


# ------------------------------------------------------------------ authorization


_FROM_COOKIE = object()


def run_authorize(
    request: Request,
    db,
    services,
    pairs: list[tuple[str, str]],
    resumed: authz.Resumed,
    method: str,
    *,
    sso=_FROM_COOKIE,
    redirects_only: bool = False,
) -> Response | None:
    """Decide the authorization request ``pairs`` for the session of the request's
    cookie (or ``sso``) and answer it. With ``redirects_only`` the answer is given only
    when it is a redirect (to the client or to the next interaction page) and None
    otherwise: see ``resume_here``."""
    ctx = make_ctx(request, db, services)
    server = server_for(ctx)
    req = GovIDOAuth2Request("GET", f"{ctx.issuer}/authorize", query=pairs, headers=request.headers)
    pg = pages(request)
    if sso is _FROM_COOKIE:
        sso = sessions.find(db, services.settings, request.cookies.get(pg.session_cookie))
    locale = pg.locale(request, dict(pairs).get("ui_locales"))
    outcome = authz.process(ctx, server, req, sso, resumed)
    if redirects_only and not _is_redirect(outcome):
        return None
    if isinstance(outcome, authz.ErrorPage):
        return pg.render(
            request,
            "error.html",
            status=400,
            locale=locale,
            error=outcome.error,
            description=(
                translator(locale)(outcome.message, **outcome.values)
                if outcome.message
                else outcome.description
            ),
        )
    if isinstance(outcome, authz.Redirect):
        return authorization_response(request, pg, outcome, locale, method)
    # An interaction: carry the original request, signed, through the pages.
    interaction = {
        "p": pairs,
        "t": resumed.started_at or time.time(),
        "k": outcome.kind,
        "r": outcome.reason,
        "h": outcome.login_hint,
        "c": resumed.consent_done,
        "s": resumed.select_done,
        "l": resumed.fresh_login,
        "e": resumed.enrol_skipped,
        "sk": outcome.skippable,
        "sc": outcome.scopes,
        "cid": outcome.client.row.client_id,
    }
    token = interaction_signer(services).dumps(interaction, INTERACTION_TTL)
    if outcome.kind == "login" and method == "GET" and not redirects_only:
        # The sign-in page itself rather than a redirect to /login: a browser round
        # trip less per sign-in (Keycloak answers its authorization endpoint the same
        # way). Its form posts to /login; a reload asks again from the start.
        return login_page(request, pg, db, interaction, token)
    if outcome.kind in INTERACTION_PAGES:
        target = f"{INTERACTION_PAGES[outcome.kind]}?{urlencode({'i': token})}"
        return RedirectResponse(target, status_code=303)
    account = sso.account
    if outcome.kind == "select_account":
        return pg.render(
            request,
            "select_account.html",
            locale=locale,
            interaction=token,
            email=account.email,
            form_target=redirect_target(interaction),
        )
    row = outcome.client.row
    agency = get_agency(db, row.agency_id)
    return pg.render(
        request,
        "consent.html",
        locale=locale,
        interaction=token,
        email=account.email,
        client_name=row.name_th if locale == "th" else row.name_en,
        agency_name=agency.name_th if locale == "th" else agency.name_en,
        # The agency's privacy notice (PDPA), or its nearest parent's; clients name none.
        privacy=privacy_notice(db, agency),
        # 'openid' is no information about the person (issue 19, 11): not listed.
        scopes=[s for s in outcome.scopes if s in discovery.SCOPE_LABELS and s != "openid"],
        apis=[  # RFC 8707: the agency APIs the app may call as the person, by name
            {"name": a[f"name_{locale}"], "scopes": ", ".join(a["scopes"])}
            for a in api_resources.consent_apis(db, outcome.scopes)
        ],
        form_target=redirect_target(interaction),
    )


def authorization_response(
    request: Request, pg: Pages, outcome: authz.Redirect, locale: str, method: str
) -> Response:
    if outcome.response_mode == "form_post":
        # OAuth 2.0 Form Post Response Mode: an auto-submitting form to the RP.
        nonce = pg.nonce()
        origin = form_target_source(outcome.redirect_uri) or "'none'"
        csp = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; form-action {origin}; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        return pg.render(
            request,
            "form_post.html",
            locale=locale,
            action=outcome.redirect_uri,
            params=outcome.params,
            nonce=nonce,
            headers={"Content-Security-Policy": csp},
        )
    parts = urlsplit(outcome.redirect_uri)
    query = parts.query + ("&" if parts.query else "") + urlencode(outcome.params)
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    # RFC 9700 §4.12: 303 after a POST so the browser does not re-post credentials.
    return RedirectResponse(
        location,
        status_code=303 if method == "POST" else 302,
        headers={"Cache-Control": "no-store"},
    )


def _is_redirect(outcome: authz.Outcome) -> bool:
    if isinstance(outcome, authz.Redirect):
        return outcome.response_mode != "form_post"
    return isinstance(outcome, authz.Interaction) and outcome.kind in INTERACTION_PAGES


def resumed_from(data: dict) -> tuple[list[tuple[str, str]], authz.Resumed]:
    """The authorization request and its progress, from a signed interaction."""
    pairs = [tuple(p) for p in data["p"]]
    resumed = authz.Resumed(
        started_at=data["t"],
        consent_done=bool(data.get("c")),
        select_done=bool(data.get("s")),
        fresh_login=bool(data.get("l")),
        denied=bool(data.get("d")),
        enrol_skipped=bool(data.get("e")),
    )
    return pairs, resumed


def resume_here(request: Request, db, services, data: dict, sso) -> Response | None:
    """What ``/authorize/resume`` would answer for interaction ``data`` and the session
    ``sso``, answered by the page that finished a step (the sign-in or second-factor
    POST) instead of a redirect to ``/authorize/resume``: a browser round trip less per
    sign-in, as Keycloak and node-oidc-provider do. Only a redirect is answered here
    (303, RFC 9700 §4.12); a page (consent, account choice, form_post, an error page)
    must not be the answer to a POST that a reload would send again, so for those this
    returns None and the caller redirects to ``/authorize/resume``."""
    return run_authorize(
        request, db, services, *resumed_from(data), "POST", sso=sso, redirects_only=True
    )


@router.get("/authorize")
def authorize_get(request: Request, db: DbDep, services: ServicesDep) -> Response:
    pairs = list(request.query_params.multi_items())
    return run_authorize(request, db, services, pairs, authz.Resumed(started_at=time.time()), "GET")


@router.post("/authorize")
def authorize_post(request: Request, db: DbDep, services: ServicesDep, form: FormDep) -> Response:
    # OIDC Core §3.1.2.1: POST uses form serialisation of the same parameters.
    return run_authorize(request, db, services, form, authz.Resumed(started_at=time.time()), "POST")


@router.get("/authorize/resume")
def authorize_resume(request: Request, db: DbDep, services: ServicesDep, i: str = "") -> Response:
    try:
        data = interaction_signer(services).loads(i)
    except BadSignature:
        return pages(request).error(request, "invalid_request", "interaction_broken")
    return run_authorize(request, db, services, *resumed_from(data), "GET")


# ------------------------------------------------------------------ token endpoints


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _with_no_store(response: Response) -> Response:
    response.headers.update(NO_STORE)
    return response


async def token(request: Request) -> Response:
    """RFC 6749 §3.2. A request that needs nothing from the database (client_credentials
    by a client in the cache authenticating with a secret) runs here on the event loop
    and only waits for its audit event's group commit (idp/audit/batch.py); anything
    else — or anything that turns out to reach for the database — runs from the start
    in the thread pool with a transaction of its own, committed before the answer.

    The hottest endpoint of a provider is a plain Starlette route placed first in the
    application's table (``FAST_ROUTES``): FastAPI's dependency solving and its scan
    of every route cost more than the rest of a machine token (issue 5, S2)."""
    services: Services = request.app.state.services
    form = await form_pairs(request)
    problem = form_problem(request, form)
    if problem is not None:
        return problem
    if ("grant_type", "client_credentials") in form:
        ctx = make_ctx(request, None, services)
        try:
            response = _token(ctx, request, form)
        except NeedsDatabase:
            pass  # nothing was written or sent: start again with a session
        else:
            await services.audit_batcher.commit(ctx.pending_audit or [])
            return response
    return await run_in_threadpool(_token_in_transaction, request, services, form)


async def introspect(request: Request) -> Response:
    """RFC 7662. A read (issue 22): the client is authenticated from the client cache,
    the token checked by ``validate_access_token`` (one statement) in an autocommit
    session (no BEGIN, no COMMIT), with one trip through the thread pool; a plain
    Starlette route in ``FAST_ROUTES``, as resource servers call it per request."""
    services: Services = request.app.state.services
    form = await form_pairs(request)
    problem = form_problem(request, form)
    if problem is not None:
        return problem
    return await run_in_threadpool(_introspect, request, services, form)


def _introspect(request: Request, services: Services, form) -> Response:
    if any(name == "client_assertion" for name, _ in form):
        # private_key_jwt writes the assertion's jti to the replay cache: a transaction.
        with services.sessions() as db, db.begin():
            return _introspection(request, db, services, form)
    with read_session(services) as db:
        return _introspection(request, db, services, form)


def _introspection(request: Request, db, services: Services, form) -> Response:
    ctx = make_ctx(request, db, services)
    server = server_for(ctx)
    req = oauth_request(request, form, ctx.issuer, query=[])
    return _with_no_store(server.create_endpoint_response("introspection", req))


FAST_ROUTES = [
    Route("/token", limit_token(token), methods=["POST"]),  # per-client rate limit
    Route("/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
    # RFC 8414 §3: the same document, where OAuth clients and API gateways look.
    Route("/.well-known/oauth-authorization-server", openid_configuration, methods=["GET"]),
    Route("/jwks", jwks, methods=["GET"]),
    Route("/introspect", introspect, methods=["POST"]),
]


def _token_in_transaction(request: Request, services, form) -> Response:
    with services.sessions() as db, db.begin():
        return _token(make_ctx(request, db, services), request, form)


def _token(ctx: OidcContext, request: Request, form) -> Response:
    server = server_for(ctx)
    req = oauth_request(request, form, ctx.issuer, query=[])
    return _with_no_store(server.create_token_response(req))


@router.post("/revoke")
def revoke(request: Request, db: DbDep, services: ServicesDep, form: FormDep) -> Response:
    problem = form_problem(request, form)
    if problem is not None:
        return problem
    ctx = make_ctx(request, db, services)
    server = server_for(ctx)
    req = oauth_request(request, form, ctx.issuer, query=[])
    return _with_no_store(server.create_endpoint_response("revocation", req))


def oauth_error_response(err: OAuth2Error) -> Response:
    body = {"error": err.error}
    if err.description:
        body["error_description"] = err.description
    return JSONResponse(body, status_code=err.status_code or 400, headers=NO_STORE)
