"""Issue 20's end-to-end journey, one story in Chromium with every page's CSP in force,
against a real `idp serve` and console (tests/admin_ui/conftest.py):

1. an operator creates a ministry in the console and, on the account pages of two of its
   people, grants one of them agency admin and the other auditor over it;
2. that agency admin signs in at level 2 (password, then TOTP), imports 1,000 accounts
   into the new ministry (dry run first, then the job), creates one more account;
3. its owner sets a password with the activation link and signs in to a demo relying
   party (which has a back-channel logout URI);
4. the agency admin suspends the account: GovID sends the relying party a logout token
   for that person's session (back-channel logout), and the party's access token stops
   working at /userinfo;
5. the auditor exports the day's events of the ministry; the file and its signed
   manifest, downloaded from the console, verify with GovID's JWKS, and the export holds
   the suspension;
6. the agency admin cannot reach another ministry's accounts by URL (404), nor list them.

Each step is a separate test in order (module-scoped state), so a failure names the step."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import delete, func, select

from idp.accounts.models import Account
from idp.auditing.verify_export import jwks_verifier, verify_export
from idp.clients import service as clients
from tests.admin_ui.conftest import L2, _person
from tests.admin_ui.test_console_e2e import _sign_in, _store
from tests.protocol.conftest import BackchannelReceiver

NEW_PASSWORD = "a long sentence that is my own password"


@pytest.fixture(scope="module")
def story(console_world):
    """The world plus an operator, two people the operator will give roles to, and a
    demo relying party of ministry A with a back-channel logout receiver."""
    w = console_world
    u = w.users["admin"]["email"].split("@a", 1)[1].removesuffix(".go.th")
    receiver = BackchannelReceiver()
    with w.services.sessions.begin() as db:
        w.users["j_operator"] = _person(db, w.services, f"jop@a{u}.go.th", f"ma-{u}", "operator")
        rp, rp_secret = clients.create(
            db,
            clients.NewClient(
                agency_code=f"ma-{u}",
                name_th="แอปสาธิต",
                name_en="Demo app",
                client_id=f"demo-rp-{u}",
                redirect_uris=(f"http://127.0.0.1:{receiver.port}/cb",),
                backchannel_logout_uri=receiver.url,
                scopes=("openid", "profile", "email"),
                first_party=True,
            ),
        )
    state = {
        "w": w,
        "u": u,
        "code": f"mj-{u}",
        "domain": f"j{u}.go.th",
        "receiver": receiver,
        "rp": {"client_id": rp.client_id, "secret": rp_secret},
    }
    yield state
    receiver.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en", accept_downloads=True)  # CSP in force
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    yield page
    context.close()
    blocked = [m for m in console if "Content Security Policy" in m]
    assert not blocked, blocked


def _grants(w, account_id: str) -> set[tuple[str, str]]:
    from idp.accounts.models import RoleGrant
    from idp.agencies.models import Agency

    with w.services.sessions() as db:
        rows = db.execute(
            select(RoleGrant.role, Agency.code)
            .join(Agency, Agency.id == RoleGrant.agency_id)
            .where(RoleGrant.account_id == account_id)
        ).all()
    return {(r, c) for r, c in rows}


def test_1_operator_creates_a_ministry_and_grants_an_agency_admin_and_an_auditor(page, story):
    w, code = story["w"], story["code"]
    _sign_in(page, w, "j_operator", "/agencies")
    page.fill("#code", code)
    page.fill("#name_th", "กระทรวงการเดินทาง")
    page.fill("#name_en", "Ministry of Journeys")
    page.fill("#mail_domains", story["domain"])
    page.click("#create-ministry")
    page.wait_for_selector("#done")
    assert page.locator("#agency-code").inner_text() == code
    _staff_of_the_new_ministry(story)
    expires = (dt.date.today() + dt.timedelta(days=365)).isoformat()
    for who, role in (("j_admin", "agency_admin"), ("j_auditor", "auditor")):
        page.goto(f"{w.console}/accounts/{w.users[who]['id']}")
        page.select_option("#role", role)
        page.fill("#role_agency", code)
        page.fill("#expires", expires)
        page.click("#grant")
        page.wait_for_url("**done=granted**")
        assert code in page.locator("#grants").inner_text()
        assert (role, code) in _grants(w, _uuid(w.users[who]["id"]))


def _staff_of_the_new_ministry(story) -> None:
    """Two people of the new ministry (HR's import would make them), each with a TOTP
    authenticator; the roles that matter come from the operator in the console."""
    from idp.accounts.models import RoleGrant

    w, code = story["w"], story["code"]
    with w.services.sessions.begin() as db:
        for who in ("j_admin", "j_auditor"):
            # _person enrols TOTP for people given a role: give one, then take it away.
            email = f"{who.replace('_', '.')}@{story['domain']}"
            w.users[who] = _person(db, w.services, email, code, "auditor")
            db.execute(delete(RoleGrant).where(RoleGrant.account_id == _uuid(w.users[who]["id"])))


def _uuid(value: str):
    import uuid

    return uuid.UUID(value)


def _people_csv(story, n: int, bad_row: int | None = None) -> bytes:
    lines = ["email,agency,given_name_th,family_name_th,given_name_en,family_name_en"]
    for i in range(1, n + 1):
        agency = "no-such-agency" if i == bad_row else story["code"]
        lines.append(f"person{i:04d}@{story['domain']},{agency},สมศรี,มีสุข,Somsri{i},Meesuk")
    return ("\n".join(lines) + "\n").encode()


def _imported(story) -> int:
    with story["w"].services.sessions() as db:
        return db.scalar(
            select(func.count())
            .select_from(Account)
            .where(Account.email.like(f"person%@{story['domain']}"))
        )


def test_2_the_agency_admin_signs_in_at_level_2_imports_1000_and_creates_one(page, story):
    w = story["w"]
    _sign_in_again(page, story)  # password, then a TOTP code
    story["j_admin_cookies"] = page.context.cookies()  # steps 4 and 6: the same admin
    record = _store(w).load(_store(w).unsign(_cookie(page)))
    assert record.data["user"]["acr"] == L2  # the console holds a level-2 sign-in
    claims = _claims(record.data["tokens"]["id_token"])
    assert claims["acr"] == L2 and "otp" in claims["amr"]
    assert page.locator("#who").inner_text() == "J.Admin Tester"  # their name, not "None"
    assert f"Agency admin over {story['code']}" in " ".join(
        page.locator("#roles").inner_text().split()
    )

    # Dry run first: an error row is reported and nothing is written.
    page.goto(f"{w.console}/import")
    page.set_input_files(
        "#file",
        files=[{"name": "p.csv", "mimeType": "text/csv", "buffer": _people_csv(story, 1000, 3)}],
    )
    page.click("#dry-run")
    page.wait_for_selector("#dry-summary", timeout=60000)
    assert page.locator("#failed-count").inner_text() == "1"
    assert _imported(story) == 0
    page.goto(f"{w.console}/import")
    page.set_input_files(
        "#file",
        files=[{"name": "p.csv", "mimeType": "text/csv", "buffer": _people_csv(story, 1000)}],
    )
    page.click("#dry-run")
    page.wait_for_selector("#apply", timeout=60000)
    assert page.locator("#valid-count").inner_text() == "1000"
    assert _imported(story) == 0  # still a dry run
    page.click("#apply")
    page.wait_for_selector("#tokens", timeout=120000)
    assert page.locator("#created-count").inner_text() == "1000"
    assert _imported(story) == 1000

    # One more, by hand: its activation link is shown once.
    page.goto(f"{w.console}/accounts/new")
    email = f"traveller@{story['domain']}"
    page.fill("#email", email)
    page.fill("#agency", story["code"])
    page.fill("#given_name_th", "นักเดินทาง")
    page.fill("#family_name_th", "ใจกล้า")
    page.fill("#given_name_en", "Traveller")
    page.fill("#family_name_en", "Jaiklah")
    page.click("#create")
    page.wait_for_selector("#one-time-link")
    story["link"] = page.input_value("#one-time-link")
    page.click("#to-account")
    page.wait_for_selector("#status-tag")
    story["traveller"] = {"id": page.url.rsplit("/", 1)[1].split("?")[0], "email": email}
    assert page.locator("#status-tag").inner_text() == "Active"


def _cookie(page) -> str:
    return next(c for c in page.context.cookies() if c["name"] == "govid_admin")["value"]


def _claims(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_3_the_new_person_sets_a_password_and_signs_in_to_a_demo_app(page, story):
    w, rp = story["w"], story["rp"]
    page.goto(story["link"])
    page.fill("#new", NEW_PASSWORD)
    page.click("form[action='/password/set'] button[type=submit]")
    page.wait_for_selector("#to-account")

    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    redirect = f"http://127.0.0.1:{story['receiver'].port}/cb"
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": rp["client_id"],
            "redirect_uri": redirect,
            "scope": "openid profile email",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    page.goto(f"{w.govid}/authorize?{query}")
    if page.locator("#password").count():  # the set-password page may have signed them in
        page.fill("#email", story["traveller"]["email"])
        page.fill("#password", NEW_PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(lambda url: url.startswith(f"{redirect}?"), timeout=15000)
    got = parse_qs(urlsplit(page.url).query)
    assert got["state"] == [state]
    r = httpx.post(
        f"{w.govid}/token",
        data={
            "grant_type": "authorization_code",
            "code": got["code"][0],
            "redirect_uri": redirect,
            "code_verifier": verifier,
        },
        auth=(rp["client_id"], rp["secret"]),
        timeout=20,
    )
    assert r.status_code == 200, r.text
    tokens = r.json()
    claims = _claims(tokens["id_token"])
    assert claims["nonce"] == nonce and claims["sid"]
    story["rp_session"] = {"sid": claims["sid"], "sub": claims["sub"], **tokens}
    ok = httpx.get(
        f"{w.govid}/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=20,
    )
    assert ok.status_code == 200 and ok.json()["email"] == story["traveller"]["email"]


def test_4_suspension_ends_the_persons_session_at_the_app_by_back_channel_logout(page, story):
    w, receiver, session = story["w"], story["receiver"], story["rp_session"]
    receiver.tokens.clear()
    receiver.event.clear()
    _as_the_agency_admin(page, story)
    page.goto(f"{w.console}/accounts/{story['traveller']['id']}")
    page.fill("#reason", "left the ministry")
    page.click("#suspend")
    page.wait_for_selector("#done")
    assert page.locator("#status-tag").inner_text() == "Suspended"

    # GovID's back-channel delivery reaches the app with a logout token for that session.
    assert receiver.event.wait(30), "no back-channel logout reached the demo app"
    jwks = KeySet.import_key_set(httpx.get(f"{w.govid}/jwks", timeout=20).json())
    token = jwt.decode(receiver.tokens[-1], jwks)
    assert token.header["typ"] == "logout+jwt"
    c = token.claims
    assert c["iss"] == w.govid and c["aud"] in (
        story["rp"]["client_id"],
        [story["rp"]["client_id"]],
    )
    assert c["sid"] == session["sid"] and c["sub"] == session["sub"]
    assert "http://schemas.openid.net/event/backchannel-logout" in c["events"]
    assert "nonce" not in c
    # And the app's access token is refused from now on.
    r = httpx.get(
        f"{w.govid}/userinfo",
        headers={"Authorization": f"Bearer {session['access_token']}"},
        timeout=20,
    )
    assert r.status_code == 401


def _as_the_agency_admin(page, story) -> None:
    """This test's browser context carries on the agency admin's console session of step
    2 (its cookies). A second sign-in would need a TOTP code of a later time step than
    step 2's (GovID accepts each step once): up to 30 s of waiting for the real clock."""
    assert "j_admin_cookies" in story, "step 2 did not sign the agency admin in"
    page.context.add_cookies(story["j_admin_cookies"])
    w = story["w"]
    page.goto(f"{w.console}/")
    assert page.url.startswith(w.console), page.url  # no new sign-in asked
    assert page.locator("#who").inner_text() == "J.Admin Tester"


def _sign_in_again(page, story, who: str = "j_admin", start: str = "/") -> None:
    """Sign in in this test's browser context (each test has its own), at level 2."""
    import pyotp

    from tests.admin_ui.conftest import PASSWORD

    w = story["w"]
    person = w.users[who]
    page.goto(f"{w.console}{start}")
    page.wait_for_selector("#email")
    page.fill("#email", person["email"])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("form[action='/mfa'] #code")
    # A code GovID has not seen: the step after enrolment's (within its one-step window).
    page.fill("#code", pyotp.TOTP(person["totp"]).at(time.time() + 30))
    page.click("form[action='/mfa'] [type=submit]")
    page.wait_for_url(f"{w.console}{start}", timeout=15000)


def test_5_the_auditor_exports_the_days_events_and_the_manifest_verifies(page, story, tmp_path):
    w = story["w"]
    _sign_in(page, w, "j_auditor", "/audit")
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).strftime("%Y-%m-%dT00:00")
    page.fill("#since", today)
    page.click("#filter-events")
    page.wait_for_selector("#events")
    page.click("#fmt-ndjson")
    page.click("#export")
    page.wait_for_selector("#verify-status")
    assert page.locator("#verify-status").get_attribute("data-status") == "verified"
    with page.expect_download() as dl:
        page.click("#download-file")
    data = tmp_path / "events.ndjson"
    dl.value.save_as(data)
    with page.expect_download() as dl:
        page.click("#download-manifest")
    manifest = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    check = verify_export(data, manifest, jwks_verifier(httpx.get(f"{w.govid}/jwks").json()))
    assert check.ok, check
    events = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    assert check.count == len(events) == manifest["manifest"]["count"]
    suspended = [e for e in events if e["type"] == "admin.account.suspended"]
    assert [e["subject"] for e in suspended] == [story["traveller"]["id"]]
    created = [e for e in events if e["type"] == "admin.account.created"]
    assert story["traveller"]["id"] in [e["subject"] for e in created]  # the one by hand
    imported = [e for e in events if e["type"] == "admin.import.completed"]
    assert sum(e["details"]["created"] for e in imported) == 1000  # summaries per chunk
    # The ministry's events only: nothing of ministry B.
    assert not any(str(e.get("subject")) == w.users["other"]["id"] for e in events)


def test_6_the_agency_admin_cannot_reach_another_ministrys_accounts(page, story):
    w = story["w"]
    _as_the_agency_admin(page, story)
    for who in ("other", "target"):  # ministry B; ministry A (where they work, no role)
        r = page.goto(f"{w.console}/accounts/{w.users[who]['id']}")
        assert r.status == 404, who
        assert "Not found" in page.locator("[role=alert]").inner_text()
    page.goto(f"{w.console}/accounts?agency=mb-{story['u']}")
    assert page.locator("#accounts tbody tr").count() == 0
    page.goto(f"{w.console}/accounts?q=other")
    assert w.users["other"]["email"] not in page.content()
