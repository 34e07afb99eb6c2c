"""The person behind the request, once the request itself is valid: whether they must
sign in (no session, prompt=login, max_age, another account hinted), choose an account,
step up to the assurance level asked for (DESIGN §5) or consent first; with prompt=none,
each of these is an error for the app instead of a page."""

from __future__ import annotations

import datetime as dt

from idp.credentials import mfa
from idp.oidc import claims as oidc_claims
from idp.oidc.authorize.outcomes import StepNeeded
from idp.oidc.authorize.state import State, Stop, error
from idp.tokens.models import Consent


def check_login(s: State) -> None:
    now = s.ctx.services.clock.now()
    sso = s.sso
    reasons = []
    if sso is None:
        reasons.append("no_session")
    else:
        started = dt.datetime.fromtimestamp(s.resumed.started_at, dt.UTC)
        # The user signed in after this request arrived: prompt=login and max_age are met.
        fresh = s.resumed.fresh_login and sso.auth_time >= started
        if "login" in s.prompts and not fresh:
            reasons.append("prompt_login")
        if (
            s.max_age is not None
            and not fresh
            and (now - sso.auth_time).total_seconds() > s.max_age
        ):
            reasons.append("max_age")  # OIDC Core §3.1.2.1: re-authenticate
        if s.hint_sub and s.hint_sub != str(sso.account_id):
            reasons.append("other_account")
    if sso is not None and not reasons:
        s.account = sso.account
        return
    if "none" in s.prompts:
        raise error(s, "login_required", "The user must sign in.")
    raise Stop(
        StepNeeded("login", s.client, reason=reasons[0], login_hint=s.data.get("login_hint"))
    )


def check_select_account(s: State) -> None:
    if "select_account" in s.prompts and not s.resumed.select_done:
        raise Stop(StepNeeded("select_account", s.client))


def check_acr(s: State) -> None:
    """Assurance level (DESIGN §5): essential acr and the client's min_acr must be met
    (OIDC Core §5.5.1.1); a level-1 session steps up with the second factor only."""
    level1, level2 = s.ctx.settings.acr_level1, s.ctx.settings.acr_level2
    values, essential = oidc_claims.requested_acr(s.claims_request)
    # An essential acr without values only asks that acr be returned, which it always
    # is (OIDC Core §5.5.1.1); with values, one of them must be met.
    essential = essential and bool(values)
    known = [v for v in values if v in (level1, level2)]
    required, mandatory = level1, False
    if essential:
        if not known:
            raise error(
                s,
                "unmet_authentication_requirements",
                "None of the requested acr values is offered.",
            )
        if level1 not in known:
            required, mandatory = level2, True
    else:
        preferred = (s.data.get("acr_values") or "").split()
        if preferred and preferred[0] == level2:
            required = level2  # voluntary (OIDC Core §3.1.2.1 acr_values)
    if s.client.row.min_acr == level2:
        required, mandatory = level2, True
    if required != level2 or s.session.acr == level2:
        return
    has_factor = mfa.has_second_factor(s.db, s.signed_in.id)
    if "none" in s.prompts:
        raise error(s, "interaction_required", "A second factor is needed.")
    if has_factor:
        raise Stop(StepNeeded("mfa", s.client))
    if essential:
        raise error(
            s,
            "unmet_authentication_requirements",
            "The account has no second factor for assurance level 2.",
        )
    if mandatory or not s.resumed.enrol_skipped:
        raise Stop(StepNeeded("enrol", s.client, skippable=not mandatory))


def check_consent(s: State) -> None:
    if s.resumed.denied:
        raise error(s, "access_denied", "The user did not allow this application.")
    if s.client.row.first_party:
        return
    # Claims asked for one by one count as their scopes (OIDC Core §3.1.2.4, §5.5).
    scopes = sorted(
        set(s.req.scope.split()) | oidc_claims.claim_scopes(s.claims_request, s.client.row)
    )
    stored = s.db.get(Consent, (s.signed_in.id, s.client.row.client_id))
    covered = stored is not None and set(scopes) <= set(stored.scopes or [])
    wants = "consent" in s.prompts and not s.resumed.consent_done
    if covered and not wants:
        return
    if s.resumed.consent_done and not wants:
        return
    if "none" in s.prompts:
        raise error(s, "consent_required", "The user has not approved this application.")
    raise Stop(StepNeeded("consent", s.client, scopes=scopes))
