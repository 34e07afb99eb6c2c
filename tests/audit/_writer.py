"""A separate OS process appending audit events (tests/audit/test_concurrency.py).

Usage: python -m tests.audit._writer URL NAME COUNT
Connects, prints "ready" and waits for a line on stdin (the test starts all writers at
once that way, so they really overlap), writes COUNT events in their own transactions
(every 7th rolled back), prints {"committed": n}.
"""

from __future__ import annotations

import json
import sys

from sqlalchemy.orm import sessionmaker

from idp.audit import service as audit
from idp.db import make_engine


def main(url: str, name: str, count: int) -> None:
    engine = make_engine(url)
    sessions = sessionmaker(bind=engine)
    engine.connect().close()  # the connection pool is warm before the start line
    print("ready", flush=True)
    sys.stdin.readline()
    committed = 0
    for i in range(count):
        session = sessions()
        try:
            with session.begin():
                audit.record(session, "admin.account.resumed", actor=name, subject=str(i))
                if i % 7 == 3:
                    raise RuntimeError("roll back")
            committed += 1
        except RuntimeError:
            pass
        finally:
            session.close()
    engine.dispose()
    print(json.dumps({"committed": committed}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
