"""Server-side console sessions: the browser holds only a signed random id.

A session's data (tokens, the sign-in's state/nonce/PKCE verifier, the CSRF token) is
stored encrypted (AES-256-GCM, key from ADMIN_UI_SESSION_SECRET, the row's key as
associated data) in the console's own database table or in Redis, keyed by SHA-256 of the
id: a copy of the store neither yields a cookie nor a refresh token. Rows carry GovID's
``sid`` so a back-channel logout finds them (OIDC Back-Channel Logout 1.0 §2.7).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    insert,
    select,
    update,
)

metadata = MetaData()
sessions_table = Table(
    "admin_ui_session",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("sid", String(255), index=True),
    Column("data", LargeBinary, nullable=False),
    Column("expires_at", Integer, nullable=False, index=True),
)


@dataclass
class Record:
    """One console session as the app sees it."""

    id: str
    data: dict[str, Any] = field(default_factory=dict)
    sid: str | None = None
    expires_at: int = 0


class Backend(Protocol):
    def load(self, key: str) -> tuple[bytes, str | None, int] | None: ...
    def store(self, key: str, blob: bytes, sid: str | None, expires_at: int) -> None: ...
    def remove(self, key: str) -> None: ...
    def remove_sid(self, sid: str) -> int: ...
    def close(self) -> None: ...


class SqlBackend:
    """A table of the console's own (SQLite or PostgreSQL, never GovID's database)."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3, installed
        self.engine = create_engine(url, pool_pre_ping=True)
        metadata.create_all(self.engine)

    def load(self, key):
        with self.engine.connect() as c:
            row = c.execute(
                select(
                    sessions_table.c.data, sessions_table.c.sid, sessions_table.c.expires_at
                ).where(sessions_table.c.key == key)
            ).first()
        return (bytes(row[0]), row[1], row[2]) if row else None

    def store(self, key, blob, sid, expires_at):
        t = sessions_table
        with self.engine.begin() as c:
            n = c.execute(
                update(t).where(t.c.key == key).values(data=blob, sid=sid, expires_at=expires_at)
            ).rowcount
            if not n:
                c.execute(insert(t).values(key=key, data=blob, sid=sid, expires_at=expires_at))
            # Expired rows go on every write; cheap with the index.
            c.execute(delete(t).where(t.c.expires_at < int(time.time())))

    def remove(self, key):
        with self.engine.begin() as c:
            c.execute(delete(sessions_table).where(sessions_table.c.key == key))

    def remove_sid(self, sid):
        with self.engine.begin() as c:
            return c.execute(delete(sessions_table).where(sessions_table.c.sid == sid)).rowcount

    def close(self):
        self.engine.dispose()


class RedisBackend:
    """Redis: a hash per session with its TTL, a set per GovID sid."""

    def __init__(self, url: str) -> None:
        import redis

        self.r = redis.Redis.from_url(url)

    def load(self, key):
        h = self.r.hgetall(f"admin_ui:s:{key}")
        if not h:
            return None
        sid = h.get(b"sid", b"").decode() or None
        return h[b"data"], sid, int(h[b"exp"])

    def store(self, key, blob, sid, expires_at):
        name = f"admin_ui:s:{key}"
        ttl = max(1, expires_at - int(time.time()))
        pipe = self.r.pipeline()
        pipe.hset(name, mapping={"data": blob, "sid": sid or "", "exp": expires_at})
        pipe.expire(name, ttl)
        if sid:
            pipe.sadd(f"admin_ui:sid:{sid}", key)
            pipe.expire(f"admin_ui:sid:{sid}", ttl)
        pipe.execute()

    def remove(self, key):
        self.r.delete(f"admin_ui:s:{key}")

    def remove_sid(self, sid):
        keys = [k.decode() for k in self.r.smembers(f"admin_ui:sid:{sid}")]
        n = self.r.delete(*[f"admin_ui:s:{k}" for k in keys]) if keys else 0
        self.r.delete(f"admin_ui:sid:{sid}")
        return n

    def close(self):
        self.r.close()


def backend_for(url: str) -> Backend:
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBackend(url)
    return SqlBackend(url)


class SessionStore:
    """Signed ids out, encrypted records in."""

    def __init__(self, backend: Backend, *, cookie_key: bytes, token_key: bytes, ttl: int):
        self.backend = backend
        self._cookie_key = cookie_key
        self._aead = AESGCM(token_key)
        self.ttl = ttl

    # ---------------------------------------------------------------- the cookie's value

    def new_id(self) -> str:
        return secrets.token_urlsafe(32)

    def sign(self, session_id: str) -> str:
        mac = hmac.new(self._cookie_key, session_id.encode(), hashlib.sha256).hexdigest()
        return f"{session_id}.{mac}"

    def unsign(self, value: str | None) -> str | None:
        if not value or "." not in value:
            return None
        session_id, _, mac = value.rpartition(".")
        good = hmac.new(self._cookie_key, session_id.encode(), hashlib.sha256).hexdigest()
        return session_id if hmac.compare_digest(mac, good) else None

    @staticmethod
    def key(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    # ---------------------------------------------------------------- records

    def load(self, session_id: str) -> Record | None:
        key = self.key(session_id)
        got = self.backend.load(key)
        if got is None:
            return None
        blob, sid, expires_at = got
        if expires_at < time.time():
            self.backend.remove(key)
            return None
        try:
            plain = self._aead.decrypt(blob[:12], blob[12:], key.encode())
        except (InvalidTag, ValueError):
            return None  # another secret, or tampered with: no session
        return Record(id=session_id, data=json.loads(plain), sid=sid, expires_at=expires_at)

    def save(self, record: Record) -> None:
        if not record.expires_at:
            record.expires_at = int(time.time()) + self.ttl
        key = self.key(record.id)
        nonce = os.urandom(12)
        blob = nonce + self._aead.encrypt(nonce, json.dumps(record.data).encode(), key.encode())
        self.backend.store(key, blob, record.sid, record.expires_at)

    def delete(self, session_id: str) -> None:
        self.backend.remove(self.key(session_id))

    def delete_sid(self, sid: str) -> int:
        """Back-channel logout: every console session GovID's session ``sid`` made."""
        return self.backend.remove_sid(sid)

    def close(self) -> None:
        self.backend.close()
