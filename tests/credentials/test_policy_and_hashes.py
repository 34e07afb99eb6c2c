"""Password policy (NIST SP 800-63B) and legacy mail-system hashes."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from passlib import hash as h

from idp.credentials import passwords, policy
from idp.credentials.passwords import BACKENDS, PasswordHasher, UnknownHashScheme
from tests.conftest import make_settings

P = policy.Policy()


@pytest.mark.parametrize(
    "pw, reason",
    [
        ("short", "too_short"),
        ("x" * 15, "repetitive"),
        ("passwordpassword", "common"),
        ("QWERTYUIOPASDFGH", "common"),  # case-insensitive
        ("somchai-likes-long-walks", "contains_email"),
        ("a" * 300 + "b", "too_long"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(pw, reason):
    with pytest.raises(policy.WeakPassword) as exc:
        policy.check(pw, email="somchai@moi.go.th", has_second_factor=False, policy=P)
    assert exc.value.reason == reason
    assert exc.value.localized("th") != exc.value.localized("en")


def test_length_depends_on_second_factor():
    pw = "tiger-lily-42"  # 13 characters
    with pytest.raises(policy.WeakPassword, match="15"):
        policy.check(pw, email="a@b.go.th", has_second_factor=False, policy=P)
    assert policy.check(pw, email="a@b.go.th", has_second_factor=True, policy=P) == pw


def test_unicode_is_allowed_and_nfkc_normalised():
    thai = "รหัสผ่านภาษาไทยยาวพอสมควร"
    assert policy.check(thai, email="a@b.go.th", has_second_factor=False, policy=P) == thai
    # Full-width letters normalise to ASCII (NFKC): the same password either way.
    assert policy.normalise("ｐａｓｓ") == "pass"


def test_list_has_at_least_100k_entries():
    assert policy.common_list_size() >= 100_000


@given(st.text(min_size=15, max_size=40).filter(lambda s: len(set(s)) > 1))
@settings(max_examples=50)
def test_policy_never_crashes(pw):
    try:
        policy.check(pw, email="x@y.go.th", has_second_factor=False, policy=P)
    except policy.WeakPassword as exc:
        assert exc.reason in policy.MESSAGES


@pytest.fixture(scope="module", params=BACKENDS)
def hasher(request):
    """Each argon2id backend, chosen explicitly (``auto`` picks one of them by speed)."""
    h = PasswordHasher(make_settings("sqlite://", argon2_backend=request.param))
    assert h.backend == request.param
    return h


@pytest.mark.parametrize(
    "legacy",
    [
        h.ldap_salted_sha1,
        h.ldap_salted_sha512,
        h.ldap_sha512_crypt,
        h.sha512_crypt,
        h.bcrypt,
        h.ldap_pbkdf2_sha1,
        h.ldap_pbkdf2_sha256,
    ],
)
def test_legacy_hashes_verify_and_need_rehash(hasher, legacy):
    # Each scheme at its lowest work factor: the format and the verification path are what
    # is tested here, not the cost (bcrypt 12 took ~1.5 s per backend). The production
    # work factors, up to each scheme's limit, are verified in bench/legacy_hashes.py.
    if "rounds" in legacy.setting_kwds:
        legacy = legacy.using(rounds=legacy.min_rounds)
    stored = legacy.hash("old mail password")
    assert hasher.check_importable(stored) == legacy.name
    assert hasher.verify("old mail password", stored)
    assert not hasher.verify("wrong", stored)
    assert hasher.needs_update(stored)
    assert not hasher.needs_update(hasher.hash("x"))


@pytest.mark.parametrize(
    "bad", ["{MD5}X03MO1qnZdYdgyfeuILPmQ==", "plaintext", "$1$abc", "", "{SSHA}not-base64!"]
)
def test_unknown_schemes_are_rejected_at_import(hasher, bad):
    with pytest.raises(UnknownHashScheme, match="unsupported password hash"):
        hasher.check_importable(bad)


def test_malformed_stored_hash_fails_closed(hasher):
    assert hasher.verify("x", "{SSHA}!!!!") is False


def test_argon2id_hashes_carry_the_configured_parameters(hasher):
    stored = hasher.hash("ร้านกาแฟ ตอนเช้า 2026")
    s = make_settings("sqlite://")
    params = f"m={s.argon2_memory_kib},t={s.argon2_time_cost},p={s.argon2_parallelism}"
    assert stored.startswith(f"$argon2id$v=19${params}$")
    assert hasher.verify("ร้านกาแฟ ตอนเช้า 2026", stored)
    assert not hasher.verify("ร้านกาแฟ ตอนเช้า 2027", stored)
    assert not hasher.needs_update(stored)


@pytest.mark.parametrize("parallelism", [1, 4])
def test_argon2id_interoperates_with_argon2_cffi(hasher, parallelism):
    """Whichever backend computes our argon2id, hashes must stay readable by any RFC
    9106 implementation (and hashes written elsewhere, e.g. by an earlier GovID or an
    import, must keep verifying)."""
    from argon2 import PasswordHasher as Argon2Cffi

    cffi = Argon2Cffi(time_cost=2, memory_cost=19 * 1024, parallelism=parallelism)
    written_elsewhere = cffi.hash("ข้าราชการ-password")
    assert hasher.verify("ข้าราชการ-password", written_elsewhere)
    assert not hasher.verify("ข้าราชการ-passwore", written_elsewhere)
    assert cffi.verify(hasher.hash("ข้าราชการ-password"), "ข้าราชการ-password")


@pytest.mark.parametrize(
    "bad",
    [
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$",  # no tag
        "$argon2id$v=19$m=19456,t=2,p=1$!!!$AAAA",
        "$argon2id$v=19$m=1,t=2,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43,  # memory below minimum
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43 + "é",
    ],
)
def test_malformed_argon2id_fails_closed(hasher, bad):
    assert hasher.verify("x", bad) is False


def test_parallelism_other_than_one_hashes_through_passlib():
    s = make_settings("sqlite://")
    s = s.model_copy(update={"argon2_parallelism": 2})
    other = PasswordHasher(s)
    stored = other.hash("pw for p2")
    assert ",p=2$" in stored
    assert other.verify("pw for p2", stored)


def test_the_two_backends_read_each_other():
    sodium, cffi = (PasswordHasher(make_settings("sqlite://", argon2_backend=b)) for b in BACKENDS)
    for writer, reader in ((sodium, cffi), (cffi, sodium)):
        stored = writer.hash("สลับกันอ่าน")
        assert reader.verify("สลับกันอ่าน", stored)
        assert not reader.verify("สลับกันอ่าม", stored)


@pytest.mark.parametrize("slow", BACKENDS)
def test_auto_uses_the_faster_backend_measured_once(monkeypatch, slow):
    """``auto`` times both on this host; here one is made 30 ms slower, so the choice
    is certain. The measurement is kept for the parameter set (one per process)."""
    calls = []
    real = dict(passwords._VERIFY)

    def slowed(stored, password, area=None):
        calls.append(stored)
        ends = time.thread_time() + 0.03
        while time.thread_time() < ends:
            pass
        return real[slow](stored, password, area)

    monkeypatch.setattr(passwords, "_measured", {})
    monkeypatch.setitem(passwords._VERIFY, slow, slowed)
    settings = make_settings("sqlite://", argon2_backend="auto")
    first = PasswordHasher(settings)
    (fast,) = set(BACKENDS) - {slow}
    assert first.backend == fast
    measured = len(calls)
    assert measured == 3  # one untimed run, two timed
    second = PasswordHasher(settings)
    assert second.backend == fast and len(calls) == measured
    assert second.verify("pw", second.hash("pw")) and len(calls) == measured


def test_other_argon2id_shapes_need_an_update(hasher):
    """The shortcut for current hashes must not hide a hash with other parameters or
    other salt/tag sizes (passlib decides those)."""
    from argon2 import PasswordHasher as Argon2Cffi

    s = make_settings("sqlite://")
    m, t = s.argon2_memory_kib, s.argon2_time_cost
    assert not hasher.needs_update(hasher.hash("pw"))
    assert hasher.needs_update(Argon2Cffi(time_cost=t + 1, memory_cost=m, parallelism=1).hash("pw"))
    assert hasher.needs_update(Argon2Cffi(time_cost=t, memory_cost=m * 2, parallelism=1).hash("pw"))
    short_salt = Argon2Cffi(time_cost=t, memory_cost=m, parallelism=1, salt_len=8).hash("pw")
    assert hasher.needs_update(short_salt) == hasher._ctx.needs_update(short_salt)
