"""The signed interaction that carries a sign-in through its pages.

An interaction either resumes an authorization request (``p``: the RP's parameters) or
returns to a GovID page of our own (``n``: a local path such as ``/account``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idp.deps import pages
from idp.oidc import INTERACTION_TTL, interaction_signer, resume_here
from idp.sessions import service as sessions
from idp.signing import BadSignature
from idp.web.render import redirect_target


@dataclass
class Flow:
    data: dict[str, Any]
    token: str
    locale: str

    @property
    def skippable(self) -> bool:
        return bool(self.data.get("sk"))

    @property
    def form_target(self) -> str | None:
        """Where this flow's forms may end: the app's validated redirect URI."""
        return redirect_target(self.data)

    @property
    def ui_locales(self) -> str | None:
        return dict(self.data.get("p") or []).get("ui_locales")


def local_path(path: str | None) -> str:
    """Only our own absolute paths: never another host (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/account"
    return path


def new_flow(services, next_path: str, why: str | None = None) -> str:
    """A step of our own (e.g. the second factor) that returns to ``next_path``;
    ``why`` names the action that needs it, said on the page (``why_<name>`` text)."""
    data = {"n": local_path(next_path), "t": 0}
    if why:
        data["w"] = why
    return interaction_signer(services).dumps(data, INTERACTION_TTL)


def resign(services, data: dict[str, Any]) -> str:
    """The same step, signed again (for a detour that returns to it)."""
    return interaction_signer(services).dumps(data, INTERACTION_TTL)


def parse(request: Request, services, token: str | None) -> Flow | None:
    try:
        data = interaction_signer(services).loads(token)
    except BadSignature:
        return None
    pg = pages(request)
    locale = pg.locale(request, dict(data.get("p") or []).get("ui_locales"))
    return Flow(data, token or "", locale)


def restart_url(services, token: str | None) -> str | None:
    """Where "start again" goes after a step expired: the app's own authorization
    request again (its parameters were validated when the step was signed), or the
    GovID page the step was for. None for a token GovID did not sign."""
    try:
        data = interaction_signer(services).loads(token, allow_expired=True)
    except BadSignature:
        return None
    if data.get("p") is not None:
        return f"/authorize?{urlencode([(str(k), str(v)) for k, v in data['p']])}"
    return local_path(data.get("n"))


def expired_page(
    request: Request, token: str | None = None, message: str = "step_expired"
) -> Response:
    """A step that cannot go on, said in words first: by default that it
    was open too long; ``message="csrf"`` when the step is fine but the form is not."""
    # The language links keep the step (idp.web.render.same_step_url).
    restart = restart_url(request.app.state.services, token) if token else None
    return pages(request).error(
        request,
        "interaction_expired",
        message,
        interaction=token,
        restart=restart,
        minutes=str(INTERACTION_TTL // 60),
    )


def login_redirect(flow: Flow) -> RedirectResponse:
    return RedirectResponse(f"/login?{urlencode({'i': flow.token})}", status_code=303)


def load_flow(request: Request, db, services, token: str | None, *, csrf: str | None = None):
    """(flow, session, account, early_response). ``early_response`` is set when the page
    cannot go on: a broken interaction, a bad CSRF token, or no session (sign in first)."""
    flow = parse(request, services, token)
    pg = pages(request)
    if flow is None:
        return None, None, None, expired_page(request, token)
    if csrf is not None and not pg.csrf_ok(request, csrf):
        return None, None, None, expired_page(request, token, "csrf")
    sso = sessions.find(db, services.settings, request.cookies.get(pg.session_cookie))
    if sso is None:
        return flow, None, None, login_redirect(flow)
    return flow, sso, sso.account, None


def continue_after(
    services,
    flow: Flow,
    *,
    here: tuple[Request, Any, Any] | None = None,
    ttl: int = INTERACTION_TTL,
    **flags: Any,
) -> Response:
    """Where a finished step (sign-in, second factor, consent) goes next: back to the
    authorization request, or to our own page. ``here`` = (request, db, session) lets the
    authorization request be answered in this response when that answer is a redirect
    (``idp.oidc.resume_here``); otherwise the browser is sent to
    ``/authorize/resume``."""
    if flow.data.get("p") is not None:
        data = {**flow.data, **flags}
        if here is not None:
            request, db, sso = here
            response = resume_here(request, db, services, data, sso)
            if response is not None:
                return response
        token = interaction_signer(services).dumps(data, ttl)
        return RedirectResponse(f"/authorize/resume?{urlencode({'i': token})}", status_code=303)
    return RedirectResponse(local_path(flow.data.get("n")), status_code=303)
