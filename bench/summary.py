"""The table `make bench` ends with (issue 22): S1-S6, per core with the database's CPU
counted, p50/p99, errors, GovID / node-oidc-provider and the target of each ratio, from
the median of ``--runs`` runs in alternating order (bench/oidc_bench.py), and S3's share
of the argon2id floor (bench/floor.py's measurement of one verification)."""

from __future__ import annotations

from typing import Any

# (scenario, GovID's result, node-oidc-provider's, target GovID / node per core)
ROWS = [
    ("S1 discovery", "S1D GovID", "S1D node", 1.2),
    ("S1 JWKS", "S1J GovID", "S1J node", 1.2),
    ("S2 client_credentials (ES256 JWT)", "S2 GovID ES256", "S2 node ES256", 0.8),
    ("S3 code-flow sign-in with PKCE", "S3 GovID", "S3 node", 0.9),
    ("S4 refresh with rotation", "S4 GovID", "S4 node", 1.0),
    ("S5 userinfo", "S5U GovID", "S5U node", 1.0),
    ("S5 introspection", "S5I GovID", "S5I node", 1.0),
    ("S6 mixed soak (GovID only)", "S6 GovID", None, None),
]
S3_FLOOR_TARGET = 0.85


def per_core(r: dict[str, Any]) -> float:
    """Requests per second of one core, the server's CPU and PostgreSQL's counted."""
    cores = (r["cpu"].get("server", 0) + r["cpu"].get("postgres", 0)) / 100
    return r["rps"] / cores if cores and r["rps"] else float("nan")


def median(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per scenario, the run with the median rate per core (the lower middle of an even
    count), with every run's rate per core (``per_core_runs``) and errors summed."""
    out: dict[str, dict[str, Any]] = {}
    for key in {k for run in runs for k in run}:
        got = sorted((r for run in runs if (r := run.get(key))), key=per_core)
        pick = dict(got[(len(got) - 1) // 2])
        pick["per_core_runs"] = [round(per_core(r), 1) for r in got]
        pick["errors_all_runs"] = sum(r["errors"] for r in got)
        out[key] = pick
    return out


def argon2_floor(seconds: float = 2.0) -> dict[str, float]:
    """bench/floor.py's argon2id verification (production parameters, GovID's work area):
    CPU per verification, and the sign-ins per second of one core it allows at most."""
    import floor

    us = floor.argon2_us(seconds)
    return {"argon2_us": round(us, 1), "max_per_core": round(1e6 / us, 1)}


def _num(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def _rate(r: dict[str, Any] | None) -> str:
    if not r:
        return "not run"
    runs = r.get("per_core_runs", [])
    spread = f" ({_num(min(runs))}-{_num(max(runs))})" if len(runs) > 1 else ""
    return _num(per_core(r)) + spread


def _lat(r: dict[str, Any] | None) -> str:
    return f"{r['p50_ms']:.1f}/{r['p99_ms']:.1f}" if r else "-"


def _err(r: dict[str, Any] | None) -> str:
    return str(r.get("errors_all_runs", r["errors"])) if r else "-"


def table(args, results: dict[str, dict[str, Any]], floor: dict[str, float] | None) -> str:
    runs = f"median of {args.runs} runs in alternating order" if args.runs > 1 else "one run"
    out = [
        "",
        f"Issue 22 table — per core = requests/s per CPU-second of the server + PostgreSQL "
        f"({runs}; range of the runs in brackets); latency p50/p99 ms; errors of all runs",
        f"{'scenario':36} {'node per core':>20} {'GovID per core':>20} {'GovID/node':>10} "
        f"{'target':>7} {'node p50/p99':>14} {'GovID p50/p99':>14} {'err n/G':>8}",
    ]
    for scenario, g_key, n_key, target in ROWS:
        g, n = results.get(g_key), results.get(n_key) if n_key else None
        ratio = per_core(g) / per_core(n) if g and n else None
        verdict = ""
        if ratio is not None and target:
            verdict = "met" if ratio >= target else "NOT met"
        out.append(
            f"{scenario:36} {_rate(n) if n_key else '-':>20} {_rate(g):>20} "
            f"{f'{ratio:.2f}' if ratio is not None else '-':>10} "
            f"{f'>= {target}' if target else '-':>7} {_lat(n):>14} {_lat(g):>14} "
            f"{_err(n) + '/' + _err(g):>8} {verdict}"
        )
    s3 = results.get("S3 GovID")
    if floor and s3:
        share = per_core(s3) / floor["max_per_core"]
        node = results.get("S3 node")
        node_share = ""
        if node:
            node_share = f"; node-oidc-provider {per_core(node) / floor['max_per_core']:.0%}"
        out.append(
            f"S3 argon2id floor (bench/floor.py: {floor['argon2_us'] / 1000:.1f} ms CPU per "
            f"verification = at most {floor['max_per_core']:.1f} sign-ins/s per core): GovID "
            f"{share:.0%} of it (target >= {S3_FLOOR_TARGET:.0%}: "
            f"{'met' if share >= S3_FLOOR_TARGET else 'NOT met'}){node_share}"
        )
    s6 = results.get("S6 GovID")
    if s6:
        worst = max(
            ((op, r["p99_ms"]) for op, r in s6["per_op"].items() if r["p99_ms"] is not None),
            key=lambda x: x[1],
            default=("-", float("nan")),
        )
        flat = s6["rss_growth_pct"] < 5
        out.append(
            f"S6 {s6['seconds']:.0f} s: {s6['errors']} errors "
            f"({'met' if not s6['errors'] else 'NOT met'}), RSS {s6['rss_growth_pct']:+.1f} % "
            f"after warm-up (target < 5 %: {'met' if flat else 'NOT met'}), slowest p99 "
            f"{worst[0]} {worst[1]:.1f} ms (each request type's p99 above)"
        )
    return "\n".join(out)
