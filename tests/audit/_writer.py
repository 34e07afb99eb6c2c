"""A separate OS process appending audit events (tests/audit/test_concurrency.py).

Usage: python -m tests.audit._writer URL NAME COUNT START_AT
Waits until START_AT (epoch seconds) so two processes really overlap, writes COUNT
events in their own transactions (every 7th rolled back), prints {"committed": n}.
"""

from __future__ import annotations

import json
import sys
import time

from sqlalchemy.orm import sessionmaker

from idp.audit import service as audit
from idp.db import make_engine


def main(url: str, name: str, count: int, start_at: float) -> None:
    engine = make_engine(url)
    sessions = sessionmaker(bind=engine)
    time.sleep(max(0.0, start_at - time.time()))
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
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
