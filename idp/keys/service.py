"""Signing keys: generation, encrypted storage, rotation, JWKS, signing and verification.

States (DESIGN §5): ``next`` (published, not yet signing) → ``active`` (signs) →
``retired`` (published until every token it signed has expired, then only kept for
verifying old audit checkpoints). One active key per algorithm (RS256, ES256).

Publishing ``next`` before it signs anything lets relying parties that cache the JWKS
pick it up before rotation (OIDC Core §10.1.1).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, KeyParameters, KeySet, RSAKey
from joserfc.util import urlsafe_b64encode
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import service as audit
from idp.crypto import DataCipher
from idp.db import utcnow
from idp.keys import jws
from idp.keys.jws import InvalidToken
from idp.keys.models import SigningKey

ALGORITHMS = ("RS256", "ES256")
_PURPOSE = "signing_key.private"


def _generate(alg: str) -> RSAKey | ECKey:
    kid = f"{alg.lower()}-{dt.datetime.now(dt.UTC):%Y%m%d}-{secrets.token_hex(4)}"
    params: KeyParameters = {"kid": kid, "alg": alg, "use": "sig"}
    if alg == "RS256":
        return RSAKey.generate_key(2048, parameters=params)
    return ECKey.generate_key("P-256", parameters=params)


def _store(session: Session, cipher: DataCipher, alg: str, state: str) -> SigningKey:
    key = _generate(alg)
    private = json.dumps(key.as_dict(private=True)).encode()
    public = key.as_dict(private=False)
    row = SigningKey(
        kid=public["kid"],
        alg=alg,
        state=state,
        private_key_enc=cipher.encrypt(private, _PURPOSE),
        public_jwk=dict(public),
        activated_at=utcnow() if state == "active" else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "keys.key.created",
        actor="system",
        details={"kid": row.kid, "alg": alg, "state": state},
    )
    return row


def ensure_keys(session: Session, cipher: DataCipher) -> list[str]:
    """Make sure each algorithm has an active and a next key; returns kids created."""
    if session.get_bind().dialect.name == "postgresql":
        # Two workers starting at once must not both create an active key.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x6B657973})
    created = []
    for alg in ALGORITHMS:
        states = set(
            session.scalars(
                select(SigningKey.state).where(
                    SigningKey.alg == alg, SigningKey.state.in_(("active", "next"))
                )
            )
        )
        for state in ("active", "next"):
            if state not in states:
                created.append(_store(session, cipher, alg, state).kid)
    return created


def rotate(
    session: Session, cipher: DataCipher, *, token_lifetime: int, algs: tuple[str, ...] = ALGORITHMS
) -> dict[str, Any]:
    """next → active, active → retired (published for ``token_lifetime`` more seconds)."""
    ensure_keys(session, cipher)
    now = utcnow()
    activated, retired = [], []
    for alg in algs:
        rows = session.scalars(
            select(SigningKey)
            .where(SigningKey.alg == alg, SigningKey.state.in_(("active", "next")))
            .with_for_update()
        ).all()
        for row in rows:
            if row.state == "active":
                row.state, row.retired_at = "retired", now
                # A token signed one instant before rotation lives token_lifetime more.
                row.not_after = now + dt.timedelta(seconds=token_lifetime)
                retired.append(row.kid)
        for row in rows:
            if row.state == "next":
                row.state, row.activated_at = "active", now
                activated.append(row.kid)
        session.flush()
        _store(session, cipher, alg, "next")
    audit.record(
        session,
        "keys.key.rotated",
        actor="system",
        details={"activated": activated, "retired": retired},
    )
    return {"activated": activated, "retired": retired}


class UnknownKey(LookupError):
    pass


def revoke(session: Session, cipher: DataCipher, kid: str, *, reason: str) -> dict[str, Any]:
    """A key that may have leaked: out of the JWKS at once (not after its tokens expire,
    as a rotation would leave it) and never used again. An active key is replaced by
    its algorithm's next key (already published, so relying parties may know it) and a
    new next key is made; a next key is replaced by a new one. Tokens it signed stop
    verifying at GovID within the key cache's reload (30 s) and at relying parties when
    they fetch the JWKS again. Audit checkpoints it signed stay verifiable
    (``idp audit verify`` keeps every key) but say nothing more than the key's secrecy."""
    ensure_keys(session, cipher)
    row = session.scalar(select(SigningKey).where(SigningKey.kid == kid).with_for_update())
    if row is None:
        raise UnknownKey(kid)
    now = utcnow()
    was = row.state
    activated = []
    row.state, row.retired_at, row.not_after = "retired", row.retired_at or now, now
    session.flush()
    if was == "active":
        nxt = session.scalar(
            select(SigningKey)
            .where(SigningKey.alg == row.alg, SigningKey.state == "next")
            .with_for_update()
        )
        if nxt is not None:
            nxt.state, nxt.activated_at = "active", now
            activated.append(nxt.kid)
            session.flush()
    created = ensure_keys(session, cipher)
    audit.record(
        session,
        "keys.key.revoked",
        actor="system",
        details={
            "kid": kid,
            "alg": row.alg,
            "was": was,
            "reason": reason[:200],
            "activated": activated,
            "created": created,
        },
    )
    return {"revoked": kid, "was": was, "activated": activated, "created": created}


def published(session: Session, now: dt.datetime | None = None) -> list[SigningKey]:
    now = now or utcnow()
    rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
    return [r for r in rows if r.state != "retired" or (r.not_after and r.not_after > now)]


@dataclass(frozen=True)
class _Snapshot:
    signing: dict[str, RSAKey | ECKey]  # alg -> active private key
    public: KeySet  # every published key (verification of tokens)
    archive: KeySet  # every key ever (verification of audit checkpoints)
    jwks: dict[str, Any]
    jwks_bytes: bytes
    loaded_at: float
    # kid -> (alg, cryptography public key) of every published key: the compact JWS
    # written by ``sign`` is verified without joserfc's generic path (``verify``).
    verifiers: dict[str, tuple[str, Any]] = dataclasses.field(default_factory=dict)


class KeyRing:
    """Per-process cache of decrypted keys, reloaded every ``ttl`` seconds.

    After a rotation another worker may sign with the old key for up to ``ttl`` seconds;
    that is harmless because the old key stays published (retired, not removed).
    """

    def __init__(self, sessions: sessionmaker[Session], cipher: DataCipher, ttl: float = 30.0):
        self._sessions = sessions
        self._cipher = cipher
        self._ttl = ttl
        self._lock = threading.Lock()
        self._snap: _Snapshot | None = None
        self._keys: dict[tuple[str, str], RSAKey | ECKey] = {}
        self._verified: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = {}

    def invalidate(self) -> None:
        self._snap = None

    # Verified signatures, by the token's exact text (decision 0016): a resource server
    # introspects the same access token on every call it gets during the token's ten
    # minutes, and the ES256 check was a quarter of such a read. Only the signature is
    # remembered (a pure function of the text and the published key): expiry, the
    # deny-list, grant, account and client are decided on every request by the caller.
    VERIFIED_MAX = 4096

    def _remember(self, token: str, header: dict[str, Any], claims: dict[str, Any]) -> None:
        if len(self._verified) >= self.VERIFIED_MAX:
            self._verified = {}  # all at once: cheaper than keeping an order
        self._verified[token] = (header["kid"], header["alg"], dict(header), dict(claims))

    def _load(self) -> _Snapshot:
        with self._sessions() as session:
            rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
            if not any(r.state == "active" for r in rows):
                session.rollback()
                with self._sessions.begin() as writer:
                    ensure_keys(writer, self._cipher)
                rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
            now = utcnow()
            signing, verifiers = {}, {}
            public: list[Key] = []
            archive: list[Key] = []
            for r in rows:
                pub = self._imported(("public", r.kid), lambda r=r: r.public_jwk)
                archive.append(pub)
                if r.state != "retired" or (r.not_after and r.not_after > now):
                    public.append(pub)
                    if r.alg in jws.VERIFY:
                        verifiers[r.kid] = (r.alg, pub.public_key)
                if r.state == "active":
                    signing[r.alg] = self._imported(
                        ("private", r.kid),
                        lambda r=r: json.loads(self._cipher.decrypt(r.private_key_enc, _PURPOSE)),
                    )
        jwks = {"keys": [k.as_dict(private=False) for k in public]}
        return _Snapshot(
            signing,
            KeySet(public),
            KeySet(archive),
            jwks,
            json.dumps(jwks).encode(),
            time.monotonic(),
            verifiers,
        )

    def _imported(self, key: tuple[str, str], data) -> RSAKey | ECKey:
        """A key's material never changes under its kid (rotation adds kids): import it
        once per process, not at every reload (an RSA import checks the key: ~ms)."""
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = _import(data())
        return found

    def _current(self) -> _Snapshot:
        snap = self._snap
        if snap is None or time.monotonic() - snap.loaded_at > self._ttl:
            with self._lock:
                snap = self._snap
                if snap is None or time.monotonic() - snap.loaded_at > self._ttl:
                    snap = self._snap = self._load()
        return snap

    def jwks(self) -> dict[str, Any]:
        return self._current().jwks

    def jwks_bytes(self) -> bytes:
        return self._current().jwks_bytes

    def sign(self, claims: dict[str, Any], *, alg: str = "RS256", typ: str = "JWT") -> str:
        """A compact JWS (RFC 7515 §7.1) of ``claims`` with the active key for ``alg``.

        Written out rather than through ``joserfc.jwt.encode``: every token GovID issues
        passes here (decision 0008), and the library's header registry checks and generic
        serialisation cost twice the signature itself. The output is an ordinary JWS —
        every test and relying party verifies it with joserfc, Authlib or openid-client.
        """
        key = self._current().signing[alg]
        head = jws.header_segment(key.kid or "", alg, typ)  # ours always have one (_generate)
        payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()
        signing_input = head + b"." + urlsafe_b64encode(payload)
        signature = jws.SIGN[alg](key.private_key, signing_input)
        return (signing_input + b"." + urlsafe_b64encode(signature)).decode("ascii")

    def verify(
        self,
        token: str,
        *,
        algorithms: tuple[str, ...] = ALGORITHMS,
        archive: bool = False,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Verify a compact JWS signed by one of our keys; returns (header, claims).

        Only asymmetric algorithms we publish are accepted, so ``alg: none`` and
        HS256-with-the-public-key confusions fail here (RFC 8725 §3.1, §3.2).
        """
        # No reload on an unknown kid: a new active key was published as `next` one whole
        # rotation earlier, so every worker knows it before it signs (and forged kids
        # cannot make us hit the database).
        snap = self._current()
        if not archive:
            seen = self._verified.get(token) if isinstance(token, str) else None
            if seen is not None:
                kid, alg, header, claims = seen
                # Only while the key that signed it is published for that algorithm.
                if alg in algorithms and snap.verifiers.get(kid, (None,))[0] == alg:
                    return dict(header), dict(claims)
            fast = jws.verify_compact(token, snap.verifiers, algorithms)
            if fast is not None:
                self._remember(token, *fast)
                return fast
        try:
            token_obj = jwt.decode(
                token, snap.archive if archive else snap.public, algorithms=list(algorithms)
            )
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise InvalidToken(type(exc).__name__) from exc
        return dict(token_obj.header), dict(token_obj.claims)


def _import(data: dict[str, Any]) -> RSAKey | ECKey:
    if data.get("kty") == "RSA":
        return RSAKey.import_key(data)
    return ECKey.import_key(data)
