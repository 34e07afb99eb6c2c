"""Password policy (NIST SP 800-63B) and legacy mail-system hashes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from passlib import hash as h

from idp.credentials import policy
from idp.credentials.passwords import PasswordHasher, UnknownHashScheme
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


@pytest.fixture(scope="module")
def hasher():
    return PasswordHasher(make_settings("sqlite://"))


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
