"""What an admin operation runs with: the transaction, the caller and the object graph;
and the entity-tag checks of its writes (If-Match)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.authz.caller import Caller
from idp.authz.scope import Scope
from idp.errors import PreconditionFailed
from idp.services import Services

ANY = "*"


@dataclass
class Ctx:
    db: Session
    caller: Caller
    services: Services

    @property
    def actor(self) -> str:
        return self.caller.actor

    @property
    def issuer(self) -> str:
        return self.services.settings.issuer

    def scope(self, permission: str) -> Scope:
        return self.caller.scope(permission)


def etag(version: int) -> str:
    """A strong entity tag (RFC 9110 §8.8.3): one representation per version."""
    return f'"{version}"'


def check_tag(current: str, expected: frozenset[str] | str | None) -> None:
    """``expected`` comes from If-Match: a set of entity tags, ``*`` (any), or None (the
    header is optional for this operation and was not sent)."""
    if expected is None or expected == ANY:
        return
    if current not in expected:
        raise PreconditionFailed(
            f"the resource has changed (now {current}); reload it and try again",
            field="version",
        )


def check_version(current: int, expected: frozenset[str] | str | None) -> None:
    check_tag(etag(current), expected)


def apply_changes(ctx: Ctx, obj, new: dict, event_type: str, *, public=(), **audit_fields):
    """Set the changed fields and record ``event_type`` with their names (never their
    values, except for the fields named in ``public``, published contact details whose
    ``before``/``after`` are recorded); nothing is written or audited when nothing changed."""
    if not new:
        return obj
    details: dict = {"changed": sorted(new)}
    shown = [n for n in sorted(new) if n in public]
    if shown:
        details["before"] = {n: getattr(obj, n) for n in shown}
        details["after"] = {n: new[n] for n in shown}
    for name, value in new.items():
        setattr(obj, name, value)
    ctx.db.flush()
    from idp.audit import service as audit

    audit.record(ctx.db, event_type, actor=ctx.actor, details=details, **audit_fields)
    return obj
