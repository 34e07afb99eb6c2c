"""Jinja2 rendering with the user's language, and cookie conventions."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from idp.web import csrf
from idp.web.humane import keep_phrases
from idp.web.i18n import LOCALES, pick_locale, translator, wait_text
from idp.web.security import page_csp

TEMPLATES = Path(__file__).parent / "templates"
LOCALE_COOKIE = "govid_locale"

# A page that answers a form POST has no address of its own: its language links go to
# the GET page that shows the same step, (path, parameter carried from the page's
# context, whether that parameter is needed). Without one, the page has no links.
SAME_STEP_BY_GET = {
    "/login": ("/login", "interaction", True),
    "/consent": ("/authorize/resume", "interaction", True),
    "/select-account": ("/authorize/resume", "interaction", True),
    "/authorize": ("/authorize/resume", "interaction", True),
    "/mfa": ("/mfa", "interaction", True),
    "/mfa/enrol": ("/mfa/enrol", "interaction", True),
    "/account/totp": ("/account/totp", "", False),
    "/password/set": ("/password/set", "token", True),
    "/end_session": ("/end_session/confirm", "interaction", False),
    "/end_session/confirm": ("/end_session/confirm", "interaction", False),
}
SHOWN_ONCE = {"recovery_codes.html"}  # a language switch would lose what it shows
# Pages of a sign-in step, which expires (idp.web.time_limits): they say how long is left.
TIME_LIMITED = {"login.html", "mfa.html", "enrol.html", "consent.html", "select_account.html"}
# Not the sign-out confirmation: signing out has no time limit (oidc/routes/end_session.py).


class Pages:
    def __init__(
        self, *, secret_key: str, https: bool, previous_keys: tuple[str, ...] = ()
    ) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
        )
        # Headings keep Thai compound terms on one line (idp.web.humane.keep_phrases).
        self.env.filters["phrases"] = keep_phrases
        self.secret_key = secret_key
        # IDP_SECRET_KEY_PREVIOUS: forms served before a key rotation still post.
        self.verify_keys = (secret_key, *previous_keys)
        self.https = https
        # `__Host-` cookies must be Secure; on plain-http loopback (dev/test) browsers
        # would drop them, so the prefix is used only with https (RFC 6265bis §4.1.3.2).
        prefix = "__Host-" if https else ""
        self.session_cookie = f"{prefix}govid_session"
        self.csrf_cookie = f"{prefix}govid_csrf"

    def locale(self, request: Request, ui_locales: str | None = None) -> str:
        return pick_locale(
            ui_locales or request.query_params.get("ui_locales"),
            request.cookies.get(LOCALE_COOKIE),
            request.headers.get("accept-language"),
            chosen=request.query_params.get("lang"),
        )

    def csrf_pair(self, request: Request) -> tuple[str, str]:
        value = request.cookies.get(self.csrf_cookie) or csrf.new_cookie_value()
        return value, csrf.form_token(self.secret_key, value)

    def csrf_ok(self, request: Request, submitted: str | None) -> bool:
        return csrf.check(self.verify_keys, request.cookies.get(self.csrf_cookie), submitted)

    def error(
        self,
        request: Request,
        error: str,
        message: str,
        *,
        status: int = 400,
        interaction: str | None = None,
        restart: str | None = None,
        **values: str,
    ) -> HTMLResponse:
        """The error page for a person: ``error`` is the code shown as it is, ``message``
        a key of idp.web.i18n.MESSAGES said in the page's language; ``interaction`` keeps
        the step for the language links (``same_step_url``); ``restart`` is where "start
        again" goes (the app's request, or a GovID page)."""
        locale = self.locale(request)
        return self.render(
            request,
            "error.html",
            status=status,
            locale=locale,
            error=error,
            description=translator(locale)(message, **values),
            interaction=interaction,
            restart=restart,
        )

    def render(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        locale: str | None = None,
        headers: dict[str, str] | None = None,
        form_target: str | None = None,
        **context,
    ) -> HTMLResponse:
        """``form_target``: the validated redirect URI a form on this page may end at
        (``idp.web.security.page_csp``); without it, forms may only post to GovID."""
        locale = locale or self.locale(request)
        if form_target:
            headers = {**(headers or {}), "Content-Security-Policy": page_csp(form_target)}
        cookie_value, token = self.csrf_pair(request)

        if template in TIME_LIMITED and "time_limit" not in context:
            from idp.web.time_limits import for_page  # not at the top: an import cycle

            context["time_limit"] = for_page(
                request.app.state.services,
                context.get("interaction"),
                locale,
            )
        same_step = same_step_url(request, template, context)

        def lang_url(code: str) -> str:  # offered only when there is a same_step
            joiner = "&" if "?" in (same_step or "") else "?"
            return f"{same_step}{joiner}{urlencode({'lang': code})}"

        html = self.env.get_template(template).render(
            t=translator(locale),
            locale=locale,
            csrf_token=token,
            lang_url=lang_url if same_step is not None else None,
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=headers)
        self.set_cookie(response, self.csrf_cookie, cookie_value, max_age=None)
        chosen = request.query_params.get("lang")
        if chosen in LOCALES:  # the person's choice, remembered (not the app's ui_locales)
            self.set_cookie(response, LOCALE_COOKIE, chosen, max_age=365 * 86400)
        return response

    def set_cookie(self, response: Response, name: str, value: str, *, max_age: int | None) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path="/", secure=self.https, httponly=True, samesite="lax"
        )

    def clear_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.https, httponly=True, samesite="lax")

    @staticmethod
    def nonce() -> str:
        return secrets.token_urlsafe(16)

    @staticmethod
    def wait_text(seconds: int, locale: str) -> str:
        """A wait as people say it ("3 minutes"), for pages shown from outside idp.web."""
        return wait_text(seconds, locale)


def same_step_url(request: Request, template: str, context: dict) -> str | None:
    """A GET address (without ``lang``) that shows this page's step again, or None."""
    path = request.url.path
    if request.method in ("GET", "HEAD"):
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        return f"{path}?{urlencode(params)}" if params else path
    if template in SHOWN_ONCE:
        return None
    if path.startswith("/account") and path not in SAME_STEP_BY_GET:
        return "/account"
    target, carried, needed = SAME_STEP_BY_GET.get(path, (None, "", True))
    if target is None:
        return None
    value = context.get(carried) if carried else None
    if value:
        name = "token" if carried == "token" else "i"
        return f"{target}?{urlencode({name: value})}"
    return None if needed else target
