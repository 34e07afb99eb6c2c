"""S6: a mixed soak against one ``idp serve`` (issue 22), run by ``bench/oidc_bench.py``:

    .venv/bin/python bench/oidc_bench.py --only S6 [--s6-duration 600] [--s6-workers 16]

(`make bench` includes it; ``--s6-duration 30`` for a smoke run.) Sign-ins, refreshes,
userinfo, introspection, ``client_credentials`` and admin reads, mixed in the
proportions of ``MIX`` by ``--s6-workers`` closed-loop clients, each with its own
keep-alive connection, refresh chain and access token. Printed per request type: how
many, p50/p99, errors; in total: requests per second, per CPU-second of the server and
of PostgreSQL's backends for the bench database together, and the server's resident
memory after the warm-up and at the end (issue 22: growth under 5 %).

node-oidc-provider has no admin API (and no SCIM), so S6 runs against GovID only; its
S2-S5 figures are the side-by-side comparison. ``--s6-warmup`` (10 s) runs before the
server's RSS is first read.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from typing import Any

import httpx
import oidc_bench as B

# Operations per 100, for GovID's scale (240,000 people, access tokens living 10
# minutes, agency APIs introspecting): during a working hour about a quarter of the
# people hold a session; each app refreshes its token every ~10 minutes, agency APIs
# introspect the tokens they receive (a minute of caching at most, so ~2 per refresh),
# apps read userinfo now and then, a person signs in once or twice a day (~1 sign-in
# per 8 refreshes), agency back ends fetch machine tokens (cached, but many back ends)
# and admins read the console's lists.
MIX = {
    "introspect": 45,
    "refresh": 25,
    "userinfo": 15,
    "client_credentials": 8,
    "admin_read": 4,
    "sign_in": 3,
}


class Worker:
    def __init__(self, base: str, seeded: B.Seeded, tokens: dict[str, Any], n: int) -> None:
        self.base, self.seeded, self.n = base, seeded, n
        self.conn = B.RawHttp(base)
        self.refresh_token = tokens["refresh_token"]
        self.access_token = tokens["access_token"]
        web, machine = seeded.web, seeded.machine
        self.web_auth = B.basic_auth(web["client_id"], web["client_secret"])
        self.machine_auth = B.basic_auth(machine["client_id"], machine["client_secret"])
        self.machine_token: str | None = None


FORM = "application/x-www-form-urlencoded"


async def _op(w: Worker, op: str) -> tuple[bool, str]:
    """One request (a sign-in: its three), and whether it got the answer it must."""
    if op == "sign_in":
        got: dict[str, Any] = {}
        email = w.seeded.emails[w.n % len(w.seeded.emails)]
        # A new browser: its own connection (a pooled one could have been closed by the
        # server's keep-alive timeout meanwhile, a client-side race, not an error).
        transport = httpx.AsyncHTTPTransport()
        try:
            await B.one_login(transport, w.base, email, w.seeded, tokens_out=got)
        finally:
            await transport.aclose()
        w.refresh_token, w.access_token = got["refresh_token"], got["access_token"]
        return True, ""
    if op == "refresh":
        body = f"grant_type=refresh_token&refresh_token={w.refresh_token}".encode()
        headers = {"Authorization": w.web_auth, "Content-Type": FORM}
        status, data = await w.conn.request("POST", "/token", headers, body)
        if status != 200:
            return False, f"refresh HTTP {status}: {data[:100]!r}"
        answer = json.loads(data)
        w.refresh_token, w.access_token = answer["refresh_token"], answer["access_token"]
        return True, ""
    if op == "userinfo":
        headers = {"Authorization": f"Bearer {w.access_token}"}
        status, data = await w.conn.request("GET", "/userinfo", headers)
        ok = status == 200 and b'"sub"' in data
        return ok, "" if ok else f"userinfo HTTP {status}: {data[:100]!r}"
    if op == "introspect":
        body = f"token={w.access_token}&token_type_hint=access_token".encode()
        headers = {"Authorization": w.web_auth, "Content-Type": FORM}
        status, data = await w.conn.request("POST", "/introspect", headers, body)
        ok = status == 200 and json.loads(data).get("active") is True
        return ok, "" if ok else f"introspect HTTP {status}: {data[:100]!r}"
    if op == "client_credentials":
        body = f"grant_type=client_credentials&scope={w.seeded.machine_scope}".encode()
        headers = {"Authorization": w.machine_auth, "Content-Type": FORM}
        status, data = await w.conn.request("POST", "/token", headers, body)
        if status != 200:
            return False, f"client_credentials HTTP {status}: {data[:100]!r}"
        w.machine_token = json.loads(data)["access_token"]
        return True, ""
    if op == "admin_read":
        if w.machine_token is None:
            ok, why = await _op(w, "client_credentials")
            if not ok:
                return ok, why
        headers = {"Authorization": f"Bearer {w.machine_token}"}
        status, data = await w.conn.request("GET", "/admin/v1/accounts?limit=20", headers)
        ok = status == 200
        return ok, "" if ok else f"admin_read HTTP {status}: {data[:100]!r}"
    raise ValueError(op)


async def run(
    base: str, seeded: B.Seeded, workers: list[Worker], duration: float, seed: int
) -> tuple[dict[str, list[float]], Counter]:
    latencies: dict[str, list[float]] = {op: [] for op in MIX}
    errors: Counter = Counter()
    deadline = time.monotonic() + duration
    ops, weights = list(MIX), list(MIX.values())

    async def loop(w: Worker) -> None:
        rng = random.Random(seed * 1000 + w.n)
        try:
            while time.monotonic() < deadline:
                op = rng.choices(ops, weights)[0]
                t0 = time.perf_counter()
                try:
                    ok, why = await _op(w, op)
                except (
                    OSError,
                    asyncio.IncompleteReadError,
                    ValueError,
                    KeyError,
                    httpx.HTTPError,
                ) as exc:
                    ok, why = False, f"{op} {type(exc).__name__}: {exc}"[:120]
                    await w.conn.aclose()
                    w.conn = B.RawHttp(base)
                except B.LoginFailed as exc:
                    ok, why = False, f"sign_in: {exc}"[:120]
                latencies[op].append(time.perf_counter() - t0)
                if not ok:
                    errors[why] += 1
        finally:
            await w.conn.aclose()

    await asyncio.gather(*(loop(w) for w in workers))
    return latencies, errors


def _rss_kib(pid: int) -> int:
    """Resident memory of the server's process tree (uvicorn and its worker)."""
    total = 0
    procs = B._all_procs()
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, (_, ppid, _) in procs.items() if ppid == parent and p not in tree]
        tree.update(kids)
        frontier.extend(kids)
    for p in tree:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def scenario(args, db, seeded: B.Seeded) -> dict[str, Any]:
    """S6 against a GovID server of its own (rate-limit budgets beyond reach: one
    address sends everything)."""
    server, base = B.start_govid(db.url, IDP_ACCESS_TOKEN_ALG="ES256", **B.RATE_LIMITS_S45)
    with B.running(server, f"{base}/readyz"):
        return on_server(args, db, seeded, server, base)


def on_server(args, db, seeded: B.Seeded, server: B.Server, base: str) -> dict[str, Any]:
    """S6 against a running server (``--one-server``: the one S1-S5 ran against)."""
    n = args.s6_workers
    B.log(f"S6 GovID: {n} sign-ins to start {n} clients")
    tokens = B.govid_tokens(base, seeded, n)
    workers = [Worker(base, seeded, t, i) for i, t in enumerate(tokens)]
    warmup = args.s6_warmup
    B.log(f"S6 GovID: warm-up {warmup:.0f} s, then {args.s6_duration:.0f} s mixed")
    _, errors = asyncio.run(run(base, seeded, workers, warmup, seed=1))
    if errors:
        B.log(f"S6 warm-up errors: {dict(errors.most_common(3))}")
    rss0 = _rss_kib(server.pid)
    meter = B.CpuMeter(server.pid, db_name=db.name)
    meter.start()
    t0 = time.monotonic()
    latencies, errors = asyncio.run(run(base, seeded, workers, args.s6_duration, seed=2))
    seconds = time.monotonic() - t0
    cpu = meter.stop()
    rss1 = _rss_kib(server.pid)
    if errors:
        B.log(f"S6 errors: {dict(errors.most_common(5))}")
    requests = sum(len(v) for v in latencies.values())
    every = [x for v in latencies.values() for x in v]
    per_op = {
        op: {
            "requests": len(v),
            "p50_ms": round(1000 * B.percentile(v, 50), 2) if v else None,
            "p99_ms": round(1000 * B.percentile(v, 99), 2) if v else None,
        }
        for op, v in latencies.items()
    }
    return {
        "rps": requests / seconds,
        "requests": requests,
        "seconds": seconds,
        "p50_ms": 1000 * B.percentile(every, 50),
        "p99_ms": 1000 * B.percentile(every, 99),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors.most_common(5)),
        "cpu": cpu,
        "per_op": per_op,
        "rss_kib_after_warmup": rss0,
        "rss_kib_end": rss1,
        "rss_growth_pct": round(100 * (rss1 - rss0) / max(rss0, 1), 1),
        "mix": MIX,
    }


def report(result: dict[str, Any]) -> str:
    cpu = result["cpu"]
    cores = (cpu.get("server", 0) + cpu.get("postgres", 0)) / 100
    lines = [
        "",
        "S6 mixed soak, GovID (PostgreSQL; node-oidc-provider has no admin API, so no S6 for it)",
        f"  {result['requests']:,} requests in {result['seconds']:.0f} s = "
        f"{result['rps']:,.1f}/s; per CPU-s (server + PostgreSQL) "
        f"{result['rps'] / max(cores, 1e-9):,.1f}; server CPU {cpu.get('server')} %, "
        f"PostgreSQL {cpu.get('postgres')} %, load generator {cpu.get('load')} %",
        f"  errors: {result['errors']}" + (f" {result['error_kinds']}" if result["errors"] else ""),
        f"  server RSS: {result['rss_kib_after_warmup'] / 1024:.1f} MiB after warm-up, "
        f"{result['rss_kib_end'] / 1024:.1f} MiB at the end ({result['rss_growth_pct']:+.1f} %)",
        f"  {'request type':<20} {'share':>6} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8}",
    ]
    for op, share in result["mix"].items():
        r = result["per_op"][op]
        p50 = f"{r['p50_ms']:.1f}" if r["p50_ms"] is not None else "-"
        p99 = f"{r['p99_ms']:.1f}" if r["p99_ms"] is not None else "-"
        lines.append(f"  {op:<20} {share:>5}% {r['requests']:>9,} {p50:>8} {p99:>8}")
    return "\n".join(lines)
