"""A security key (CDP virtual authenticator) registered and used for step-up, in
Chromium: the ID token then says acr level 2 with amr ["pwd", "hwk", "mfa"]."""

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import update

from idp.sessions.models import SsoSession
from tests.protocol.conftest import PASSWORD, decode_jwt
from tests.protocol.rp import authorize_url, rp_client

L2 = "urn:govid:acr:2"


def test_register_security_key_and_step_up_with_it(browser, e2e_world):
    w = e2e_world
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )

    # Sign in to the account page with the password.
    page.goto(f"{w.base}/account")
    page.fill("#email", w.users["dave"])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{w.base}/account")

    # Register the key.
    page.fill("#key-label", "YubiKey กระทรวง")
    page.click("#webauthn-register")
    # A first key on an account without recovery codes brings them (issue 19, 5).
    page.wait_for_selector("#recovery-codes")
    page.click("#continue")
    page.locator(".factor-name", has_text="YubiKey กระทรวง").wait_for()  # its name, listed
    assert "webauthn" in page.content()

    # Level 2 lapses (idle); an app asks for level 2: the key is enough, no password.
    with w.services.sessions.begin() as db:
        db.execute(update(SsoSession).values(acr="urn:govid:acr:1", amr=["pwd"]))
    client = rp_client(w)
    url, verifier, _n, _s = authorize_url(w, client, acr_values=L2)
    page.goto(url)
    page.wait_for_selector("#webauthn-start")
    assert page.locator("#password").count() == 0
    # The RP's host does not exist here: watching the browser ask for it is enough.
    with page.expect_request(lambda r: r.url.startswith("https://rp.example.go.th/")) as req:
        page.click("#webauthn-start")
    params = {k: v[0] for k, v in parse_qs(urlsplit(req.value.url).query).items()}
    tok = client.fetch_token(f"{w.base}/token", code=params["code"], code_verifier=verifier)
    _, idt = decode_jwt(w.base, tok["id_token"])
    assert idt["acr"] == L2 and idt["amr"] == ["pwd", "hwk", "mfa"]
    context.close()
