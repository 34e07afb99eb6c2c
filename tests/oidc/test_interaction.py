"""The interaction a sign-in carries through the pages (idp.oidc.Interaction): a typed
value whose signed form expires, cannot be altered, and reads steps signed by the
release before (the same short keys), so a deploy does not break sign-ins in flight."""

import datetime as dt
from types import SimpleNamespace

import pytest

from idp.clock import FakeClock
from idp.oidc import BadInteraction, Interaction
from idp.oidc.interaction import interaction_signer

CLOCK = FakeClock(dt.datetime(2031, 1, 1, tzinfo=dt.UTC))  # the services' clock judges expiry
SERVICES = SimpleNamespace(
    settings=SimpleNamespace(secret_keys=("k" * 32, "old" * 11)), clock=CLOCK
)
PAIRS = (("client_id", "app"), ("redirect_uri", "https://app.go.th/cb"), ("ui_locales", "en"))


def test_round_trip_keeps_every_field_and_says_when_it_ends():
    step = Interaction(
        request=PAIRS,
        started_at=1_800_000_000.5,
        kind="consent",
        reason="no_session",
        login_hint="a@b.go.th",
        client_id="app",
        scopes=("openid", "email"),
        skippable=True,
        consent_done=True,
        fresh_login=True,
        extensions=2,
        max_extensions=6,
    )
    token = step.dump(SERVICES, ttl=300)
    back = Interaction.load(SERVICES, token)
    assert back.but(expires_at=0) == step
    assert back.expires_at == int(CLOCK.time()) + 300
    CLOCK.advance(300)
    assert Interaction.load(SERVICES, token) == back  # to the second
    CLOCK.advance(1)
    with pytest.raises(BadInteraction):
        Interaction.load(SERVICES, token)
    assert back.redirect_uri == "https://app.go.th/cb" and back.ui_locales == "en"
    assert back.for_app and not Interaction(next_path="/account").for_app


def test_expired_altered_or_foreign_tokens_are_refused():
    token = Interaction(request=PAIRS, kind="login").dump(SERVICES, ttl=-1)
    with pytest.raises(BadInteraction):
        Interaction.load(SERVICES, token)
    # Only to offer "start again", never to act on it:
    assert Interaction.load(SERVICES, token, allow_expired=True).kind == "login"
    body, mac = Interaction(request=PAIRS).dump(SERVICES).rsplit(".", 1)
    for bad in (f"{body}x.{mac}", f"{body}.{mac[:-2]}AA", "", None, "no-dot"):
        with pytest.raises(BadInteraction):
            Interaction.load(SERVICES, bad)
    other = SimpleNamespace(settings=SimpleNamespace(secret_keys=("z" * 32,)), clock=CLOCK)
    with pytest.raises(BadInteraction):
        Interaction.load(other, Interaction(request=PAIRS).dump(SERVICES))


def test_a_step_signed_by_the_previous_release_goes_on():
    legacy = interaction_signer(SERVICES).dumps(
        {"p": [list(p) for p in PAIRS], "t": 1.0, "k": "mfa", "l": True, "cid": "app", "x": 1},
        600,
    )
    step = Interaction.load(SERVICES, legacy)
    assert (step.kind, step.fresh_login, step.client_id, step.extensions) == ("mfa", True, "app", 1)
    assert step.request == PAIRS and step.started_at == 1.0
    # and one signed with the previous secret (IDP_SECRET_KEY_PREVIOUS) too
    previous = SimpleNamespace(settings=SimpleNamespace(secret_keys=("old" * 11,)), clock=CLOCK)
    assert Interaction.load(SERVICES, Interaction(next_path="/account").dump(previous)).next_path
