"""Sessions for requests that only read: userinfo, introspection (decision 0014)."""

from __future__ import annotations

import weakref

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from idp.services import Services

_READ_ENGINES: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def read_session(services: Services) -> Session:
    """A session for reads only, in autocommit: each statement is its own snapshot and
    nothing is sent besides the statements (no BEGIN, no COMMIT; the connection comes
    from the same pool). Nothing may be written through it."""
    engine = services.engine
    reader = _READ_ENGINES.get(engine)
    if reader is None:
        reader = _READ_ENGINES[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return Session(bind=reader, autoflush=False, expire_on_commit=False)
