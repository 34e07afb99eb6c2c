"""Scale-out (issue 22): S2 (client_credentials, ES256 JWT access tokens) and S4 (refresh
with rotation) against GovID with 1, 2, 4... ``idp serve`` worker processes on
PostgreSQL and Redis, every worker on the server CPU, so that per CPU-second of the
server and PostgreSQL each count of workers should give the same: a figure more than 15 %
below the single worker's means something global (a lock, a shared row, a queue) caps
them. Run by ``bench/oidc_bench.py --scale-out 1,2,4`` (``make bench-scale-out``):

    .venv/bin/python bench/oidc_bench.py --scale-out 1,2,4 [--runs 3] [--duration 15]

With ``--runs`` > 1 the counts run in alternating order (1,2,4 then 4,2,1 ...) and each
count's median run is shown.
"""

from __future__ import annotations

from typing import Any

import oidc_bench as B
import summary

TOLERANCE = 0.15
SCENARIOS = (("S2", "S2 client_credentials ES256"), ("S4", "S4 refresh with rotation"))


def measure(args, db, seeded: B.Seeded, workers: int) -> dict[str, dict[str, Any]]:
    B.GOVID_WORKERS = workers
    mc, ms = seeded.machine["client_id"], seeded.machine["client_secret"]
    scope = seeded.machine_scope
    server, base = B.start_govid(db.url, IDP_ACCESS_TOKEN_ALG="ES256", **B.RATE_LIMITS_S45)
    out: dict[str, dict[str, Any]] = {}
    with B.running(server, f"{base}/readyz"):
        B.log(f"scale-out: {workers} worker(s), Redis {B.REDIS_URL}, pid {server.pid}")
        B.check_s2(base, mc, ms, scope, "ES256")
        out["S2"] = B.wrk_scenario(args, base, B.s2_env(mc, ms, scope), server.pid, None, db.name)
        auth = B.basic_auth(seeded.web["client_id"], seeded.web["client_secret"])
        chains = [g["refresh_token"] for g in B.govid_tokens(base, seeded, args.s4_chains)]
        out["S4"] = B.s4_scenario(
            args, base, auth, chains, server.pid, db.name, None, db_url=db.url
        )
    return out


def run(args, db, seeded: B.Seeded) -> str:
    counts = [int(n) for n in args.scale_out.split(",")]
    runs: list[dict[str, dict[str, Any]]] = []
    for r in range(args.runs):
        order = counts if r % 2 == 0 else counts[::-1]
        got: dict[str, dict[str, Any]] = {}
        for n in order:
            for name, result in measure(args, db, seeded, n).items():
                got[f"{name} x{n}"] = result
        runs.append(got)
    merged = summary.median(runs)
    return table(args, counts, merged)


def table(args, counts: list[int], results: dict[str, dict[str, Any]]) -> str:
    out = [
        "",
        f"Scale-out — GovID on PostgreSQL {'+ Redis' if B.REDIS_URL else '(no Redis)'}, all "
        f"workers on CPU {B.SERVER_CPU}; per core = requests/s per CPU-second of the server "
        f"+ PostgreSQL ({f'median of {args.runs} runs' if args.runs > 1 else 'one run'})",
        f"{'scenario':30} {'workers':>7} {'rps':>8} {'per core':>18} {'vs 1 worker':>11} "
        f"{'p50/p99 ms':>14} {'err':>4} {'lock waiters':>12}",
    ]
    verdicts = []
    for key, label in SCENARIOS:
        base = results.get(f"{key} x{counts[0]}")
        for n in counts:
            r = results.get(f"{key} x{n}")
            if not r:
                continue
            ratio = summary.per_core(r) / summary.per_core(base) if base else float("nan")
            if n != counts[0]:
                verdicts.append(ratio >= 1 - TOLERANCE and not r["errors_all_runs"])
            waits = r.get("lock_waiters")
            out.append(
                f"{label:30} {n:>7} {r['rps']:>8.1f} {summary._rate(r):>18} {ratio:>11.2f} "
                f"{r['p50_ms']:>6.1f}/{r['p99_ms']:<7.1f} {r['errors_all_runs']:>4} "
                f"{'-' if waits is None else waits:>12}"
            )
    ok = all(verdicts)
    out.append(
        f"Within {TOLERANCE:.0%} of {counts[0]} worker(s) per core, no errors: "
        f"{'met' if ok else 'NOT met'}"
    )
    return "\n".join(out)
