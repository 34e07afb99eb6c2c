"""Values read when Prometheus scrapes (``StateCollector``): rate-limit refusals, the
database pool, the directory outbox, signing keys. The counters are in ``idp.metrics``."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("idp.metrics")


class StateCollector:
    """Values read when Prometheus scrapes: refusals, outbox, database pool."""

    def __init__(self, services) -> None:
        self.services = services

    def collect(self) -> Iterable[GaugeMetricFamily]:
        s = self.services
        limiter = s.__dict__.get("rate_limiter")  # only once the app has built it
        refusals = GaugeMetricFamily(
            "govid_rate_limit_refusals",
            "Requests refused 429 by the rate limits since start, by limit",
            labels=["limit"],
        )
        if limiter is not None:
            for name, n in sorted(limiter.refusals.snapshot().items()):
                refusals.add_metric([str(name)], n)
        yield refusals

        pool = s.engine.pool
        in_use = GaugeMetricFamily(
            "govid_db_pool_connections", "Database pool connections by state", labels=["state"]
        )
        for state, fn in (
            ("in_use", "checkedout"),
            ("idle", "checkedin"),
            ("overflow", "overflow"),
        ):
            if hasattr(pool, fn):
                in_use.add_metric([state], max(0, getattr(pool, fn)()))
        if hasattr(pool, "size"):
            in_use.add_metric(["size"], pool.size())
        yield in_use

        outbox = GaugeMetricFamily(
            "govid_outbox_rows",
            "Directory outbox rows by state (pending | parked)",
            labels=["state"],
        )
        try:
            pending, parked = self._outbox()
        except Exception as exc:  # a scrape must answer even when the database does not
            log.warning("metrics: outbox not read: %s", type(exc).__name__)
        else:
            outbox.add_metric(["pending"], pending)
            outbox.add_metric(["parked"], parked)
        yield outbox

        # Signing keys (alerts: deploy/prometheus/alerts.yml): how many per
        # algorithm and state, and since when the active one signs (rotation overdue).
        keys = GaugeMetricFamily(
            "govid_signing_keys", "Signing keys by algorithm and state", labels=["alg", "state"]
        )
        active_since = GaugeMetricFamily(
            "govid_signing_key_active_since_timestamp_seconds",
            "When the active signing key of each algorithm became active (Unix time)",
            labels=["alg"],
        )
        oldest = GaugeMetricFamily(
            "govid_outbox_oldest_pending_timestamp_seconds",
            "When the oldest pending directory outbox row was written (Unix time)",
        )
        try:
            counts, since, first = self._keys_and_oldest()
        except Exception as exc:
            log.warning("metrics: signing keys not read: %s", type(exc).__name__)
        else:
            for (alg, state), n in sorted(counts.items()):
                keys.add_metric([alg, state], n)
            for alg, t in sorted(since.items()):
                active_since.add_metric([alg], t)
            if first is not None:
                oldest.add_metric([], first)
        yield keys
        yield active_since
        yield oldest

    def _keys_and_oldest(self):
        from sqlalchemy import text

        with self.services.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT alg, state, count(*), max(coalesce(activated_at, created_at)) "
                    "FROM signing_key GROUP BY alg, state"
                )
            ).all()
            first = conn.execute(
                text(
                    "SELECT min(created_at) FROM outbox WHERE done_at IS NULL AND parked_at IS NULL"
                )
            ).scalar()
        counts = {(r[0], r[1]): int(r[2]) for r in rows}
        since = {r[0]: _unix(r[3]) for r in rows if r[1] == "active" and r[3] is not None}
        return counts, since, _unix(first) if first is not None else None

    def _outbox(self) -> tuple[int, int]:
        from sqlalchemy import text

        with self.services.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE done_at IS NULL AND parked_at IS NULL), "
                    "count(*) FILTER (WHERE done_at IS NULL AND parked_at IS NOT NULL) "
                    "FROM outbox"
                )
            ).one()
        return int(row[0]), int(row[1])


def _unix(value) -> float:
    """A timestamp column's value as Unix time (SQLite returns text, naive means UTC)."""
    import datetime as dt

    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()
