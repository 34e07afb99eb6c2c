"""TOTP and recovery codes as services (the protocol tests drive them through pages)."""

import datetime as dt

import pyotp
import pytest

from idp.credentials import mfa
from idp.credentials.models import MfaCredential
from tests import factories

T = dt.datetime(2026, 11, 24, 12, 0, 15, tzinfo=dt.UTC)


@pytest.fixture
def account(db, unique, hasher, cipher):
    factories.agency(db, f"mfa-{unique}", domains=[f"{unique}.go.th"])
    return factories.account(db, f"m@{unique}.go.th", f"mfa-{unique}", hasher=hasher, cipher=cipher)


def code_at(secret, when, steps=0):
    return pyotp.TOTP(secret).at(when + dt.timedelta(seconds=30 * steps))


def enrolled(db, cipher, account):
    cred, uri, svg = mfa.start_totp(db, cipher, account, issuer_name="GovID")
    secret = uri.split("secret=")[1].split("&")[0]
    assert mfa.confirm_totp(db, cipher, account, cred.id, code_at(secret, T), T)
    return cred, secret


def test_secret_is_encrypted_and_qr_is_svg(db, cipher, account):
    cred, uri, svg = mfa.start_totp(db, cipher, account, issuer_name="GovID")
    secret = uri.split("secret=")[1].split("&")[0]
    assert secret not in cred.secret_enc and svg.startswith("<svg")
    assert not mfa.has_second_factor(db, account.id)  # not confirmed yet


def test_window_and_single_use(db, cipher, account):
    cred, secret = enrolled(db, cipher, account)
    assert mfa.has_second_factor(db, account.id)
    assert not mfa.verify_totp(db, cipher, account, code_at(secret, T), T)  # replay
    assert mfa.verify_totp(db, cipher, account, code_at(secret, T, +1), T)  # +1 step
    assert not mfa.verify_totp(db, cipher, account, code_at(secret, T, 0), T)  # older step
    later = T + dt.timedelta(minutes=5)
    assert not mfa.verify_totp(db, cipher, account, code_at(secret, later, -2), later)
    assert not mfa.verify_totp(db, cipher, account, "12345", later)
    assert not mfa.verify_totp(db, cipher, account, "abcdef", later)


def test_recovery_codes(db, cipher, account):
    enrolled(db, cipher, account)
    codes = mfa.regenerate_recovery_codes(db, account)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.query(MfaCredential).filter_by(account_id=account.id, kind="recovery").all()
    assert all(codes[0].replace("-", "") != s.code_hash for s in stored)
    assert mfa.use_recovery_code(db, account, codes[0].lower().replace("-", " "))
    assert not mfa.use_recovery_code(db, account, codes[0])
    assert mfa.recovery_codes_left(db, account.id) == 9
    fresh = mfa.regenerate_recovery_codes(db, account)
    assert not mfa.use_recovery_code(db, account, codes[1])  # old set is gone
    assert mfa.use_recovery_code(db, account, fresh[0])


def test_removing_last_factor_drops_recovery_codes(db, cipher, account):
    cred, _ = enrolled(db, cipher, account)
    mfa.regenerate_recovery_codes(db, account)
    assert mfa.remove_factor(db, account, cred.id) == "removed"
    assert not mfa.has_second_factor(db, account.id)
    assert mfa.recovery_codes_left(db, account.id) == 0


def test_two_removals_at_once_cannot_leave_none(engine, cipher, hasher, unique):
    """An app and a key, two removals at the same moment, each refusing to remove the last:
    exactly one succeeds (issue 17 rule 11). Real commits on two connections, the second
    started while the first holds its transaction open."""
    import threading

    from sqlalchemy.orm import Session

    with Session(engine) as db, db.begin():
        factories.agency(db, f"race-{unique}", domains=[f"r{unique}.go.th"])
        acc = factories.account(
            db, f"r@r{unique}.go.th", f"race-{unique}", hasher=hasher, cipher=cipher
        )
        one, _ = enrolled(db, cipher, acc)
        two = MfaCredential(  # a security key beside the app
            account_id=acc.id,
            kind="webauthn",
            label="key",
            credential_id=f"cred-{unique}",
            public_key="pk",
            confirmed_at=T,
        )
        db.add(two)
        db.flush()
        ids = (acc.id, one.id, two.id)
    account_id, first, second = ids
    results: dict[str, str] = {}
    first_locked = threading.Event()

    def remove(name, cred_id, hold: bool):
        with Session(engine) as db, db.begin():
            from idp.accounts.models import Account

            account = db.get(Account, account_id)
            results[name] = mfa.remove_factor(db, account, cred_id, last_allowed=False)
            if hold:
                first_locked.set()
                threading.Event().wait(0.5)  # keep the transaction (and its lock) open

    t1 = threading.Thread(target=remove, args=("a", first, True))
    t1.start()
    assert first_locked.wait(10)
    t2 = threading.Thread(target=remove, args=("b", second, False))
    t2.start()
    t1.join(20)
    t2.join(20)
    try:
        assert sorted(results.values()) == ["last_factor", "removed"], results
        with Session(engine) as db:
            assert len(mfa.second_factors(db, account_id)) == 1
    finally:
        _forget_committed_account(engine, account_id)


def _forget_committed_account(engine, account_id) -> None:
    """This test committed for real: take its account out of the shared database again,
    so that no other test (the directory worker's, say) finds its rows."""
    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    from idp.accounts.models import Account
    from idp.agencies.models import Agency
    from idp.directory.models import OutboxEntry

    with Session(engine) as db, db.begin():
        account = db.get(Account, account_id)
        agency_id = account.agency_id
        db.execute(delete(OutboxEntry).where(OutboxEntry.account_id == account_id))
        db.execute(delete(MfaCredential).where(MfaCredential.account_id == account_id))
        db.delete(account)
        db.flush()
        db.execute(delete(Agency).where(Agency.id == agency_id))
