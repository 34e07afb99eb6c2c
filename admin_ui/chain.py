"""The audit chain's verification status, shown on the dashboard and the audit screen
(issue 20), from ``GET /admin/v1/audit/chain``: when the log was last verified, whether it
held, the newest full verification, a break no full verification has cleared since, and
the newest signed checkpoint. Callers without audit:read get nothing here (the API's 403)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request

from admin_ui.screens_kit import api, message

THAI_TIME = dt.timezone(dt.timedelta(hours=7))
# Housekeeping verifies new events every few minutes: a day without one means it stopped.
STALE_AFTER = dt.timedelta(days=1)
VIEWS = ("last_verification", "last_full_verification", "unresolved_failure", "last_checkpoint")


def _local(value: str) -> str:
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return str(value)
    return when.astimezone(THAI_TIME).strftime("%Y-%m-%d %H:%M")


def _state(body: dict[str, Any], now: dt.datetime) -> str:
    last = body.get("last_verification")
    if body.get("unresolved_failure") or (last and not last.get("ok")):
        return "broken"
    if not last:
        return "unverified"
    try:
        at = dt.datetime.fromisoformat(str(last["at"]).replace("Z", "+00:00"))
    except ValueError:
        return "intact"
    return "stale" if now - at > STALE_AFTER else "intact"


async def chain_status(request: Request) -> dict[str, Any] | None:
    """The view for ``_chain.html``; None when the caller may not read the audit log."""
    answer = await api(request).call(request.session, "GET", "/audit/chain")
    if answer.status == 403:
        return None
    if not answer.ok:
        return {"error": message(request, answer)}
    body = dict(answer.body)
    for key in VIEWS:
        if body.get(key):
            body[key] = {**body[key], "local_at": _local(body[key]["at"])}
    body["state"] = _state(body, dt.datetime.now(dt.UTC))
    return body
