"""The admin console's account pages over 240,000 accounts on PostgreSQL: p50/p95 of the
admin API answer behind each console page (search, filters, list pages one after another
by cursor, the dashboard's summary), as an operator (every account) and as an agency
admin of one ministry (9,600 accounts). Target: p95 under 300 ms per page.

    python bench/console_accounts.py                  # loads 240,000 accounts first
    python bench/console_accounts.py --url postgresql://postgres@127.0.0.1/govid_import_x

Without --url: bench/gen_import.py and bench/import_bench.py --keep make the database
(2,500 agencies, 240,000 accounts); it is dropped at the end unless --keep. Upgraded to
head and ANALYZEd. Each request goes through the real admin API in-process (FastAPI's
TestClient: the access token's signature and the caller's grants checked, the query,
the JSON), with real level-2 access tokens minted as GovID issues them to the console;
--runs times after one warm-up. Then the same pages as the console serves them
(``--api-only`` skips this): the console app with its session store, the API call through
httpx and the template, GovID's app behind it in-process (httpx.ASGITransport instead of
a socket). The load average before and after is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

ADMIN = os.environ.get("GOVID_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
HERE = Path(__file__).parent
DATA = Path("/tmp/govid-import-console")
SCOPE = "openid profile admin:accounts admin:clients admin:audit"

PAGES = [
    ("list, first page", {}),
    ("q English given name (Somchai12345)", {"q": "Somchai12345"}),
    ("q Thai given name (สมชาย1234)", {"q": "สมชาย1234"}),
    ("q two words (somchai123 jaidee)", {"q": "somchai123 jaidee"}),
    ("q family name for all (jaidee)", {"q": "jaidee"}),
    ("q email start (user12345)", {"q": "user12345"}),
    ("q citizen-ID last four (0123)", {"q": "0123"}),
    ("status=suspended", {"status": "suspended"}),
    ("has_second_factor=false", {"has_second_factor": "false"}),
    ("locked=true", {"locked": "true"}),
    ("agency=m06-d3 (subtree)", {"agency": "m06-d3"}),
]


def _databases() -> set[str]:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def load() -> str:
    if not (DATA / "accounts.csv").exists():
        subprocess.run(
            [sys.executable, str(HERE / "gen_import.py"), "--out", str(DATA)], check=True
        )
    before = _databases()
    subprocess.run(
        [sys.executable, str(HERE / "import_bench.py"), "--dir", str(DATA), "--keep"], check=True
    )
    (name,) = _databases() - before
    return ADMIN.rsplit("/", 1)[0] + "/" + name


def _people(services) -> dict[str, tuple[str, str]]:
    """An operator and an agency admin of ministry m06, each with a level-2 access token
    of a console client, as GovID issues them (tests/admin/conftest.py does the same)."""
    import secrets

    from idp.accounts import roles
    from idp.accounts import service as accounts
    from idp.agencies import service as agencies
    from idp.clients import service as clients
    from idp.db import utcnow
    from idp.sessions import service as sessions
    from idp.tokens import service as tokens

    s = services.settings
    tag = secrets.token_hex(3)
    out = {}
    with services.sessions.begin() as db:
        m06 = agencies.get_by_code(db, "m06")
        app, _ = clients.create(
            db,
            clients.NewClient(
                agency_code="m06",
                name_th="console",
                name_en="console",
                client_id=f"bench-console-{tag}",
                redirect_uris=("https://admin.example.go.th/callback",),
                scopes=tuple(SCOPE.split()),
                first_party=True,
            ),
        )
        for who, role in (("operator", "operator"), ("admin", "agency_admin")):
            acc = accounts.create(
                db,
                accounts.NewAccount(email=f"bench-{who}-{tag}@m06.go.th", agency_code="m06"),
                hasher=services.hasher,
                cipher=services.cipher,
            )
            roles.grant_role(db, acc, role, m06)
            sso = sessions.create(
                db, s, acc, acr=s.acr_level2, amr=["pwd", "otp", "mfa"], ip=None, user_agent=None
            ).row
            grant = tokens.create_grant(
                db,
                client=app,
                account=acc,
                scope=SCOPE,
                sid=sso.sid,
                acr=s.acr_level2,
                amr=["pwd", "otp", "mfa"],
                auth_time=utcnow(),
                claims=None,
                lifetime=3600,
                now=utcnow(),
            )
            ctx = tokens.TokenContext(
                scope=SCOPE,
                account=acc,
                grant=grant,
                acr=s.acr_level2,
                amr=("pwd", "otp", "mfa"),
                auth_time=utcnow(),
                sid=sso.sid,
            )
            token, _ = tokens.issue_access_token(
                services.keys, issuer=s.issuer, client=app, ctx=ctx, lifetime=3600, now=utcnow()
            )
            out[who] = (token, str(acc.id))
    return out


def _time(fn, runs: int) -> dict:
    fn()  # warm-up (plans, caches)
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    return {"p50": round(statistics.median(ms), 1), "p95": round(ms[int(0.95 * (len(ms) - 1))], 1)}


def measure(url: str, runs: int, console: bool = True) -> dict:
    from fastapi.testclient import TestClient

    from idp import migrate
    from idp.config import Settings
    from idp.main import create_app
    from idp.services import Services

    migrate.upgrade(url)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
        c.execute("ANALYZE")
    settings = Settings(
        env="dev", database_url=url, issuer="http://127.0.0.1:8000", rate_limits=False
    )
    services = Services(settings)
    services.keys.jwks()
    people = _people(services)
    app = create_app(settings, services, start_workers=False)
    results: dict = {}
    with TestClient(app) as client:
        for who, (token, _sub) in people.items():
            h = {"Authorization": f"Bearer {token}"}

            def get(path, params, h=h):
                r = client.get(f"/admin/v1{path}", params=params, headers=h)
                assert r.status_code == 200, (path, params, r.status_code, r.text[:300])
                return r.json()

            rows = {}
            for name, params in PAGES:
                found = len(get("/accounts", {**params, "limit": 50})["items"])
                rows[name] = {**_time(lambda p=params: get("/accounts", {**p, "limit": 50}), runs),
                              "rows": found}  # fmt: skip
            # Paging: the next five pages one after another (each its own request).
            cursors, page = [], get("/accounts", {"limit": 50})
            for _ in range(5):
                cursors.append(page["next_cursor"])
                page = get("/accounts", {"limit": 50, "cursor": page["next_cursor"]})
            turn = iter(range(10**6))
            rows["list, pages 2-6 by cursor (one page)"] = _time(
                lambda c=cursors, t=turn: get("/accounts", {"limit": 50, "cursor": c[next(t) % 5]}),
                runs,
            )
            # A page in the middle of the list (as after ~2,400 pages of paging).
            from idp.paging import encode_cursor

            middle = encode_cursor("email", "user120000@m00.go.th", uuid.UUID(int=0))
            rows["list, a page in the middle by cursor"] = _time(
                lambda m=middle: get("/accounts", {"limit": 50, "cursor": m}), runs
            )
            rows["dashboard summary"] = _time(lambda: get("/summary", {}), runs)
            results[who] = rows
        if console:
            for who, rows in _console_pages(app, people, runs).items():
                results[f"{who}, console page"] = rows
    services.close()
    return results


# The console's own query names for the API filters above.
CONSOLE = {"has_second_factor": ("mfa", {"false": "no", "true": "yes"}),
           "locked": ("locked", {"false": "no", "true": "yes"})}  # fmt: skip


def _console_pages(idp_app, people, runs: int) -> dict:
    """The pages as a person gets them: the console app (its session store, the API call
    over HTTP semantics through httpx, the template) with GovID's app in-process behind it
    (httpx.ASGITransport instead of a socket: no network hop, the rest is real)."""
    import tempfile

    import httpx
    from fastapi.testclient import TestClient

    from admin_ui.api import AdminApi
    from admin_ui.config import Settings as ConsoleSettings
    from admin_ui.main import create_app as console_app
    from admin_ui.middleware import COOKIE
    from admin_ui.store import Record

    tmp = tempfile.mkdtemp(prefix="govid-bench-console-")
    settings = ConsoleSettings(
        env="dev", issuer="http://127.0.0.1:8000", store_url=f"sqlite:///{tmp}/console.db"
    )
    app = console_app(settings)
    out: dict = {}
    with TestClient(app, base_url=settings.base_url) as client:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=idp_app), timeout=60)
        app.state.api = AdminApi(app.state.settings, app.state.govid, http)
        store = app.state.store
        for who, (token, sub) in people.items():
            rec = Record(
                id=store.new_id(),
                data={
                    "csrf": "bench",
                    "user": {"sub": sub, "name": who},
                    "tokens": {
                        "access_token": token,
                        "refresh_token": "-",
                        "id_token": "-",
                        "expires_at": int(time.time()) + 3600,
                    },
                },  # fmt: skip
                sid="bench",
            )
            store.save(rec)
            client.cookies.set("govid_admin_lang", "en")
            client.cookies.set(COOKIE, store.sign(rec.id))

            def page(path, params=None):
                r = client.get(path, params=params or {})
                assert r.status_code == 200, (path, params, r.status_code, r.text[:300])
                return r.text

            rows = {}
            for name, params in PAGES:
                q = {}
                for k, v in params.items():
                    key, values = CONSOLE.get(k, (k, {}))
                    q[key] = values.get(v, v)
                rows[name] = _time(lambda q=q: page("/accounts", q), runs)
            first = page("/accounts")
            nxt = first.split('id="next-page" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
            rows["list, page 2 by cursor (the next-page link)"] = _time(lambda n=nxt: page(n), runs)
            rows["dashboard (summary, roles, audit chain)"] = _time(lambda: page("/"), runs)
            out[who] = rows
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="an existing database with the 240,000 accounts")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--api-only", action="store_true", help="skip the console pages")
    args = p.parse_args()
    url = args.url or load()
    try:
        before = os.getloadavg()
        results = measure(url, args.runs, console=not args.api_only)
        results["_load_average"] = {"before": [round(x, 1) for x in before],
                                    "after": [round(x, 1) for x in os.getloadavg()]}  # fmt: skip
    finally:
        if not args.url and not args.keep:
            name = url.rsplit("/", 1)[1]
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(results, ensure_ascii=False, indent=2, default=str))
    machine = results.pop("_load_average")
    worst = max(r["p95"] for rows in results.values() for r in rows.values())
    print(f"load average (1/5/15 min) before {machine['before']}, after {machine['after']}",
          file=sys.stderr)  # fmt: skip
    print(f"\nworst p95: {worst} ms (target < 300 ms)", file=sys.stderr)
    w = max(len(n) for rows in results.values() for n in rows)
    for who, rows in results.items():
        print(f"\n{who}", file=sys.stderr)
        for name, r in rows.items():
            extra = f"  ({r['rows']} rows)" if "rows" in r else ""
            print(f"  {name:<{w}}  p50 {r['p50']:>7} ms  p95 {r['p95']:>7} ms{extra}",
                  file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()
