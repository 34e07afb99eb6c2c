"""The admin console: a FastAPI app of its own, server-rendered, an OIDC client of GovID
and a caller of /admin/v1 (issue 20). ``uvicorn admin_ui.main:create_app --factory``."""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
from authlib.integrations.base_client import OAuthError
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from admin_ui import (
    oidc,
    screens_accounts,
    screens_agencies,
    screens_apis,
    screens_apps,
    screens_audit,
    screens_import,
    screens_roles,
)
from admin_ui.api import AdminApi, SignInRequired, Unavailable
from admin_ui.config import Settings
from admin_ui.i18n import LOCALES, translator
from admin_ui.middleware import SecurityHeaders, ServerSession
from admin_ui.store import SessionStore, backend_for

log = logging.getLogger("admin_ui")
HERE = Path(__file__).parent
LANG_COOKIE = "govid_admin_lang"


class CsrfError(Exception):
    pass


def _stylesheet(name: str) -> bytes:
    if name == "govid.css":  # the people's pages' stylesheet, one file for both
        return resources.files("idp.web").joinpath("static/govid.css").read_bytes()
    return (HERE / "static" / name).read_bytes()


def _local_path(value: str | None) -> str:
    """Only a path of this console (no //host, no scheme): no open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    store = SessionStore(
        backend_for(settings.store_url),
        cookie_key=settings.cookie_key,
        token_key=settings.token_key,
        ttl=settings.session_ttl,
    )
    govid = oidc.make_oauth(settings)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    styles = {n: _stylesheet(n) for n in ("govid.css", "admin.css")}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with httpx.AsyncClient(timeout=settings.http_timeout) as http:
            app.state.api = AdminApi(settings, govid, http)
            yield
        store.close()

    app = FastAPI(
        title="GovID admin console",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.govid = govid

    # ------------------------------------------------------------------ helpers

    def locale_of(request: Request) -> str:
        lang = request.cookies.get(LANG_COOKIE)
        if lang in LOCALES:
            return lang
        accept = request.headers.get("accept-language", "")
        return "en" if accept.lower().startswith("en") else "th"

    def csrf_token(request: Request) -> str:
        s = request.session
        if "csrf" not in s:
            s["csrf"] = secrets.token_urlsafe(32)
        return s["csrf"]

    async def check_csrf(request: Request) -> dict:
        form = dict(await request.form())
        sent = str(form.get("csrf_token", ""))
        good = request.session.get("csrf", "")
        if not good or not hmac.compare_digest(sent, good):
            raise CsrfError
        return form

    def render(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
        locale = locale_of(request)
        user = request.session.get("user")
        return templates.TemplateResponse(
            request,
            name,
            {
                "t": translator(locale),
                "locale": locale,
                "user": user,
                "csrf_token": csrf_token(request),
                "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                **ctx,
            },
            status_code=status,
        )

    def signed_in(request: Request) -> dict:
        if not request.session.get("tokens"):
            raise SignInRequired
        return request.session["user"]

    def problem_message(request: Request, answer) -> str:
        t = translator(locale_of(request))
        text = t(f"problem_{answer.problem_code}")
        if text.startswith("problem_"):
            text = t("problem_other")
        return text

    # ------------------------------------------------------------------ errors

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired):
        # The level-2 sign-in lapsed or no token: GovID again, then back here. A POST is
        # not repeated: the person comes back to the page the form was on.
        back = request.url.path if request.method == "GET" else request.headers.get("referer")
        if back and back.startswith(settings.base_url):
            back = back.removeprefix(settings.base_url)
        if request.method == "GET" and request.url.query:
            back = f"{back}?{request.url.query}"
        return RedirectResponse("/login?" + urlencode({"next": _local_path(back)}), status_code=303)

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable):
        key = "unavailable_maybe_done" if exc.maybe_done else "unavailable"
        return render(request, "message.html", 503, message_key=key)

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, _exc: CsrfError):
        return render(request, "message.html", 403, message_key="csrf")

    # ------------------------------------------------------------------ sign-in

    @app.get("/login")
    async def login(request: Request, next: str | None = None):
        request.session["next"] = _local_path(next)
        try:
            return await govid.authorize_redirect(
                request,
                settings.redirect_uri,
                acr_values=settings.acr,
                ui_locales=locale_of(request),
            )
        except httpx.TransportError as exc:
            raise Unavailable from exc

    @app.get("/callback")
    async def callback(request: Request):
        # RFC 9207: the answer names its issuer; anything else is not GovID's.
        iss = request.query_params.get("iss")
        if (iss is not None and iss != settings.issuer) or "error" in request.query_params:
            return render(request, "message.html", 400, message_key="sign_in_failed")
        try:
            token = await govid.authorize_access_token(
                request,
                claims_options={"acr": {"essential": True, "value": settings.acr}},
            )
        except httpx.TransportError as exc:
            raise Unavailable from exc
        except (OAuthError, ValueError, KeyError) as exc:
            log.info("sign-in refused: %s", exc.__class__.__name__)
            return render(request, "message.html", 400, message_key="sign_in_failed")
        claims = token.get("userinfo")
        if not claims or not claims.get("sid"):
            return render(request, "message.html", 400, message_key="sign_in_failed")
        s = request.session
        nxt = s.get("next", "/")
        s.clear()  # the sign-in's state leaves with the old id
        s["tokens"] = {
            "access_token": token["access_token"],
            "refresh_token": token.get("refresh_token"),
            "expires_at": int(token.get("expires_at") or time.time() + 60),
            "id_token": token["id_token"],
        }
        s["user"] = {
            "sub": claims["sub"],
            "name": claims.get("name") or claims.get("given_name") or claims.get("email"),
            "email": claims.get("email"),
            "acr": claims.get("acr"),
        }
        state = request.scope["admin_session"]
        state.sid = claims["sid"]
        state.rotate = True  # a new id after sign-in (no fixation)
        return RedirectResponse(nxt, status_code=303)

    @app.post("/logout")
    async def logout(request: Request):
        await check_csrf(request)
        id_token = (request.session.get("tokens") or {}).get("id_token")
        request.scope["admin_session"].end = True
        try:
            meta = await govid.load_server_metadata()
        except httpx.TransportError:
            return RedirectResponse("/signed-out", status_code=303)
        params = {
            "client_id": settings.client_id,
            "post_logout_redirect_uri": f"{settings.base_url}/signed-out",
        }
        if id_token:
            params["id_token_hint"] = id_token
        return RedirectResponse(
            f"{meta['end_session_endpoint']}?{urlencode(params)}", status_code=303
        )

    @app.get("/signed-out")
    async def signed_out(request: Request):
        return render(request, "message.html", message_key="signed_out", sign_in_link=True)

    @app.post("/backchannel-logout")
    async def backchannel_logout(request: Request):
        """OIDC Back-Channel Logout 1.0 §2.5-2.8: GovID ended the person's session."""
        form = await request.form()
        token = form.get("logout_token")
        headers = {"Cache-Control": "no-store"}
        if not isinstance(token, str) or not token:
            return PlainTextResponse("invalid_request", 400, headers=headers)
        try:
            claims = await oidc.logout_token_claims(settings, govid, token)
        except oidc.LogoutTokenError as exc:
            log.info("logout token refused: %s", exc)
            return PlainTextResponse("invalid_request", 400, headers=headers)
        except httpx.TransportError:
            return PlainTextResponse("temporarily_unavailable", 503, headers=headers)
        ended = store.delete_sid(claims["sid"])
        log.info("back-channel logout ended %d console session(s)", ended)
        return Response(status_code=200, headers=headers)

    @app.get("/lang/{code}")
    async def language(code: str, next: str | None = None):
        r = RedirectResponse(_local_path(next), status_code=303)
        if code in LOCALES:
            r.set_cookie(
                LANG_COOKIE,
                code,
                max_age=365 * 86400,
                samesite="lax",
                secure=settings.secure_cookies,
                httponly=True,
            )
        return r

    fonts_dir = resources.files("idp.web").joinpath("static/fonts")
    fonts = {
        f.name: f.read_bytes() for f in fonts_dir.iterdir() if f.name.endswith(".woff2")
    }  # the Thai font the people's pages ship, for the same stylesheet

    @app.get("/static/fonts/{name}")
    async def font(name: str):
        if name not in fonts:
            return PlainTextResponse("not found", 404)
        return Response(
            fonts[name],
            media_type="font/woff2",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    # The only script: copy.js, the copy buttons of links shown once (CSP script-src 'self').
    scripts = {"copy.js": (HERE / "static" / "copy.js").read_bytes()}

    @app.get("/static/{name}")
    async def static(name: str):
        if name in scripts:
            return Response(
                scripts[name],
                media_type="text/javascript",
                headers={"Cache-Control": "public, max-age=3600"},
            )
        if name not in styles:
            return PlainTextResponse("not found", 404)
        return Response(
            styles[name],
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    # The screens in modules of their own (agencies, apps, import, audit) use these.
    app.state.ui = SimpleNamespace(
        render=render,
        signed_in=signed_in,
        check_csrf=check_csrf,
        locale_of=locale_of,
        problem_message=problem_message,
    )
    for screens in (
        screens_roles,  # before accounts: /accounts/{id}/roles is not an action
        screens_accounts,  # dashboard, accounts
        screens_agencies,
        screens_apps,
        screens_apis,
        screens_import,
        screens_audit,
    ):
        app.include_router(screens.router)

    # Outermost last: the headers go on every answer, the session's cookie included.
    app.add_middleware(ServerSession, store=store, secure=settings.secure_cookies)
    app.add_middleware(SecurityHeaders, issuer=settings.issuer)
    return app
