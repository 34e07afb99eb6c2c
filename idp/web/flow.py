"""A page's view of the interaction that carries a sign-in (``idp.oidc.Interaction``):
the step's state, its token and the page's language; where a finished step goes next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idp.deps import pages
from idp.oidc import INTERACTION_TTL, BadInteraction, Interaction, resume_here
from idp.sessions import service as sessions


@dataclass
class Flow:
    state: Interaction
    token: str
    locale: str

    @property
    def skippable(self) -> bool:
        return self.state.skippable

    @property
    def form_target(self) -> str | None:
        """Where this flow's forms may end: the app's validated redirect URI."""
        return self.state.redirect_uri

    @property
    def ui_locales(self) -> str | None:
        return self.state.ui_locales


def local_path(path: str | None) -> str:
    """Only our own absolute paths: never another host (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/account"
    return path


def new_flow(services, next_path: str, why: str | None = None) -> str:
    """A step of our own (e.g. the second factor) that returns to ``next_path``;
    ``why`` names the action that needs it, said on the page (``why_<name>`` text)."""
    return Interaction(next_path=local_path(next_path), why=why).dump(services)


def load(services, token: str | None) -> Interaction | None:
    """The interaction of a token GovID signed and that has not expired, else None."""
    try:
        return Interaction.load(services, token)
    except BadInteraction:
        return None


def parse(request: Request, services, token: str | None) -> Flow | None:
    state = load(services, token)
    if state is None:
        return None
    return Flow(state, token or "", pages(request).locale(request, state.ui_locales))


def restart_url(services, token: str | None) -> str | None:
    """Where "start again" goes after a step expired: the app's own authorization
    request again (its parameters were validated when the step was signed), or the
    GovID page the step was for. None for a token GovID did not sign."""
    try:
        state = Interaction.load(services, token, allow_expired=True)
    except BadInteraction:
        return None
    if state.request is not None:
        return f"/authorize?{urlencode(state.request)}"
    return local_path(state.next_path)


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
    sso = sessions.find(
        db, services.settings, request.cookies.get(pg.session_cookie), services.clock.now()
    )
    if sso is None:
        return flow, None, None, login_redirect(flow)
    return flow, sso, sso.account, None


def continue_after(
    services,
    state: Interaction,
    *,
    here: tuple[Request, Any, Any] | None = None,
    ttl: int = INTERACTION_TTL,
) -> Response:
    """Where a finished step (sign-in, second factor, consent) goes next: back to the
    authorization request, or to our own page. ``state`` says what is done now
    (``flow.state.but(fresh_login=True)``). ``here`` = (request, db, session) lets the
    authorization request be answered in this response when that answer is a redirect
    (``idp.oidc.resume_here``); otherwise the browser is sent to ``/authorize/resume``."""
    if state.for_app:
        if here is not None:
            request, db, sso = here
            response = resume_here(request, db, services, state, sso)
            if response is not None:
                return response
        token = state.dump(services, ttl)
        return RedirectResponse(f"/authorize/resume?{urlencode({'i': token})}", status_code=303)
    return RedirectResponse(local_path(state.next_path), status_code=303)
