"""Work limits on stored password hashes (issue 17 item 5).

A hash beyond its bound is refused at import and never verified at sign-in: the tests
use hashes at the format's maximum (sha512-crypt rounds=999,999,999 is ~1.5 h of CPU),
so a test that verified one would not finish; they also assert that passlib was never
asked to verify it.
"""

from __future__ import annotations

import threading

import pytest
from passlib import hash as h
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.credentials.hash_bounds import HashBounds
from idp.credentials.login import password_login
from idp.credentials.passwords import PasswordHasher
from idp.credentials.throttle import DbThrottleStore
from tests import factories
from tests.conftest import make_settings

SHA512_MAX = "$6$rounds=999999999$saltsalt$" + "a" * 86
SHA256_BIG = "{CRYPT}$5$rounds=2000000$saltsalt$" + "a" * 43
BCRYPT_31 = "$2b$31$" + "b" * 53
ARGON2_HUGE = "$argon2id$v=19$m=4194304,t=100000,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43
ARGON2I_WIDE = "$argon2i$v=19$m=65536,t=3,p=16$c2FsdHNhbHRzYWx0$" + "A" * 43
PBKDF2_BIG = "{PBKDF2-SHA512}9999999$c2FsdHNhbHQ$" + "c" * 86
OUT_OF_BOUNDS = [SHA512_MAX, SHA256_BIG, BCRYPT_31, ARGON2_HUGE, ARGON2I_WIDE, PBKDF2_BIG]


@pytest.mark.parametrize(
    ("stored", "needle"),
    [(SHA512_MAX, "sha512_crypt rounds 999999999 is above the work limit 100000"),
     (SHA256_BIG, "sha256_crypt rounds 2000000"), (BCRYPT_31, "bcrypt cost 31"),
     (ARGON2_HUGE, "argon2 m (KiB) 4194304"), (ARGON2I_WIDE, "argon2 p 16"),
     (PBKDF2_BIG, "pbkdf2_sha512 rounds 9999999")],
)  # fmt: skip
def test_each_scheme_has_a_bound_naming_its_setting(stored, needle):
    problem = HashBounds().problem(stored)
    assert problem and needle in problem and "(IDP_HASH_MAX_" in problem


@pytest.mark.parametrize(
    "stored",
    [h.sha512_crypt.using(rounds=100_000).hash("pw"), h.sha256_crypt.using(rounds=5000).hash("pw"),
     "$2b$12$" + "b" * 53, h.ldap_pbkdf2_sha512.hash("pw"), h.ldap_salted_sha1.hash("pw"),
     "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$" + "A" * 43, "{SSHA}!!!", "junk"],
)  # fmt: skip
def test_common_legacy_parameters_are_inside(stored):
    assert HashBounds().problem(stored) is None


def test_bounds_come_from_settings_and_never_exclude_our_own_argon2id():
    s = make_settings(
        "sqlite://", hash_max_bcrypt_cost=10, hash_max_argon2_memory_kib=1024,
        argon2_memory_kib=8192, hash_max_sha_crypt_rounds=5000,
    )  # fmt: skip
    bounds = HashBounds.from_settings(s)
    assert bounds.bcrypt_cost == 10 and bounds.argon2_memory_kib == 8192
    assert "cost 11" in bounds.problem("$2b$11$" + "b" * 53)
    hasher = PasswordHasher(s)
    own = hasher.hash("correct horse")
    assert hasher.out_of_bounds(own) is None and hasher.verify("correct horse", own)
    assert "rounds 6000" in hasher.out_of_bounds(h.sha512_crypt.using(rounds=6000).hash("pw"))


@pytest.fixture(scope="module")
def one_slot() -> PasswordHasher:
    return PasswordHasher(make_settings("sqlite://", argon2_concurrency=1))


def test_out_of_bounds_hashes_are_refused_without_being_verified(one_slot, monkeypatch):
    asked = []
    real = one_slot._ctx.verify
    monkeypatch.setattr(one_slot._ctx, "verify", lambda pw, s: asked.append(s) or real(pw, s))
    for stored in OUT_OF_BOUNDS:
        assert one_slot.verify("any password", stored) is False
    assert asked == []  # only the dummy argon2id ran, never passlib on these hashes


def test_legacy_verifications_run_inside_the_argon2_bound(one_slot, monkeypatch):
    free_during = []
    real = one_slot._ctx.verify

    def watched(pw, stored):
        free_during.append(one_slot.areas._free.qsize())
        return real(pw, stored)

    monkeypatch.setattr(one_slot._ctx, "verify", watched)
    stored = h.sha512_crypt.using(rounds=5000).hash("old password")
    assert one_slot.verify("old password", stored)
    assert free_during == [0]  # the one slot was held while passlib verified

    done = threading.Event()
    with one_slot.areas.slot():  # someone else holds the only slot
        t = threading.Thread(target=lambda: (one_slot.verify("x", stored), done.set()))
        t.start()
        assert not done.wait(0.3)  # waits for the slot (a loaded machine can only pass)
    t.join(30)
    assert done.is_set()


def test_a_stored_out_of_bounds_hash_is_a_wrong_password_and_audited(db, hasher, cipher, unique):
    agency = factories.agency(db, f"hb-{unique}", domains=[f"hb{unique}.go.th"])
    email = f"legacy@hb{unique}.go.th"
    account = factories.account(db, email, agency.code, hasher=hasher, cipher=cipher)
    account.password_hash = SHA512_MAX  # written before the bounds existed
    db.flush()
    result = password_login(
        db, hasher, make_settings("sqlite://"), DbThrottleStore(db), email, "whatever",
        ip="192.0.2.9", cipher=cipher,
    )  # fmt: skip
    assert not result.ok
    event = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.type == "oidc.login.failed", AuditEvent.subject == str(account.id))
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert event.details["reason"] == "password_hash_out_of_bounds"
    assert account.password_hash == SHA512_MAX and account.failed_logins == 1
