"""``idp audit ...``: checkpoint, verify, trust-anchor, export, verify-export, purge, events.

Exit 65 when the log or an export fails verification. One command group, one module
(over 400 lines: seven commands sharing their filter and range parsing).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from idp.cli.common import (
    EXIT_DATAERR,
    EXIT_INVALID_INPUT,
    EXIT_NOT_FOUND,
    CliError,
    JsonOpt,
    emit,
    handles_errors,
    open_services,
    table,
)

audit_app = typer.Typer(
    help="Audit trail: checkpoints, verification, exports, retention", no_args_is_help=True
)


def _fail(code: str, message: str, exit_code: int = EXIT_INVALID_INPUT) -> CliError:
    return CliError(code, message, exit_code)


@contextmanager
def _session(services: Any) -> Iterator[Any]:
    """A read session; on PostgreSQL one snapshot for every statement (REPEATABLE READ)."""
    with services.sessions() as session:
        if services.engine.dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield session


def _when(value: str | None, name: str) -> dt.datetime | None:
    """YYYY-MM-DD (midnight UTC) or ISO 8601; without an offset it is UTC."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _fail("invalid_input", f"--{name}: not a date or ISO 8601 time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _filters(session: Any, **kw: Any) -> Any:
    from idp.accounts import service as accounts
    from idp.agencies import service as agencies
    from idp.auditing.query import EventFilter

    account = kw.get("account")
    if account and "@" in account:  # an e-mail address names the account
        found = accounts.get_by_email(session, account)
        if found is None:
            raise _fail("not_found", f"no account {account}", EXIT_NOT_FOUND)
        account = str(found.id)
    return EventFilter(
        agency=agencies.get_by_code(session, kw["agency"]) if kw.get("agency") else None,
        since=_when(kw.get("since"), "since"),
        until=_when(kw.get("until"), "until"),
        types=tuple(kw.get("types") or ()),
        account=account,
        client_id=kw.get("client"),
        outcome=kw.get("outcome"),
    )


# ---------------------------------------------------------------------------- checkpoint


@audit_app.command("checkpoint")
@handles_errors
def checkpoint(
    every: Annotated[
        float | None, typer.Option(min=1, help="Keep running: checkpoint every N seconds")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Sign the chain head {seq, hash, at} with the IdP's key (makes truncation visible)."""
    from idp.auditing import checkpoints
    from idp.db import transaction

    with open_services() as services:
        if every is None:
            with transaction(services.sessions) as session:
                info = checkpoints.create(session, services.keys, reason="manual", actor="cli")
            data = info.to_dict() if info else {"seq": None, "message": "the log is empty"}
            emit(as_json, data, lambda: typer.echo(_cp_line(data)))
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        on_cp = None if as_json else (lambda info: typer.echo(_cp_line(info.to_dict())))
        written = checkpoints.run_periodic(
            services.sessions, services.keys, interval=every, stop=stop, on_checkpoint=on_cp
        )
    emit(as_json, {"checkpoints": written}, lambda: typer.echo(f"stopped; {written} written"))


def _cp_line(d: dict[str, Any]) -> str:
    if d.get("seq") is None:
        return "the audit log is empty; nothing to checkpoint"
    return f"checkpoint seq {d['seq']} hash {d['hash']} signed by {d['kid']} at {d['at']}"


# -------------------------------------------------------------------------------- verify


def _seq_bound(session: Any, value: str | None, name: str) -> int | None:
    """A seq, or the first seq at/after (--from) or last before (--to) a date; --from
    past the newest event is one past the head (an empty range)."""
    from idp.auditing import query

    if value is None:
        return None
    if value.isdigit():
        return int(value)
    when = _when(value, name)
    assert when is not None
    if name == "from":
        seq = query.first_seq_at_or_after(session, when)
        if seq is None:
            from sqlalchemy import func, select

            from idp.audit.models import AuditEvent

            return (session.scalar(select(func.max(AuditEvent.seq))) or 0) + 1
        return seq
    return query.last_seq_before(session, when) or 0


def _check_range(from_: str | None, to: str | None) -> None:
    """A reversed range is a typo, not an empty range (exit 2)."""
    if from_ is None or to is None:
        return
    if from_.isdigit() and to.isdigit():
        reversed_ = int(from_) > int(to)
    elif not from_.isdigit() and not to.isdigit():
        since, until = _when(from_, "from"), _when(to, "to")
        reversed_ = bool(since and until and since >= until)
    else:
        return
    if reversed_:
        raise _fail("invalid_input", f"--from {from_} is after --to {to}: the range is reversed")


def _keyset(path: Path) -> Any:
    from idp.auditing.verify_export import JwksKeys

    try:
        return JwksKeys(json.loads(path.read_text(encoding="utf-8")))
    except Exception as exc:  # unreadable, not JSON, or keys joserfc refuses
        raise _fail("invalid_input", f"--jwks {path}: not a usable JWKS file ({exc})") from None


@audit_app.command("verify")
@handles_errors
def verify(
    from_: Annotated[
        str | None, typer.Option("--from", help="First seq, or a date/time (UTC)")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last seq, or a date/time (excl.)")] = None,
    jwks: Annotated[
        Path | None,
        typer.Option(
            help="Check checkpoints with this JWKS file kept off the database (from "
            "`idp audit trust-anchor`) instead of the database's own keys"
        ),
    ] = None,
    no_record: Annotated[
        bool,
        typer.Option(
            "--no-record",
            help="Do not record the result in the log (audit.chain.verified), e.g. on a "
            "read-only replica",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the hash chain and check every checkpoint; report the first break."""
    from idp.auditing import verification
    from idp.auditing.verify import verify as run

    _check_range(from_, to)
    keyset = _keyset(jwks) if jwks is not None else None
    with open_services() as services:
        with _session(services) as session:
            lo, hi = _seq_bound(session, from_, "from"), _seq_bound(session, to, "to")
            if keyset is not None:
                report = run(session, keyset, from_seq=lo, to_seq=hi, keys_source=f"file {jwks}")
            else:
                report = run(session, services.keys, from_seq=lo, to_seq=hi)
        if not no_record:  # what the dashboard and the audit screen show
            kind = "full" if from_ is None and to is None else "range"
            with services.sessions.begin() as db:
                verification.record(db, report, kind=kind, actor="cli")
    data = report.to_dict()
    note = ("" if report.keys_independent else "note: ") + report.trust
    if report.ok:

        def human() -> None:
            if report.checked_events:
                typer.echo(
                    f"OK: {report.checked_events} events (seq {report.first_seq}–"
                    f"{report.last_seq}) and {report.checked_checkpoints} checkpoints verified"
                )
            else:
                typer.echo(f"OK: 0 events verified ({report.message})")
            if report.uncovered_events:
                typer.echo(f"{report.uncovered_events} newest events not yet checkpointed")
            for w in report.warnings:
                typer.echo(f"warning: {w}")
            typer.echo(note)

        emit(as_json, data, human)
        return
    payload = {"error": "audit_chain_broken", **data}
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        typer.echo(
            f"BROKEN at seq {report.first_bad_seq} ({report.problem}): {report.message}",
            err=True,
        )
        typer.echo(note, err=True)
    raise typer.Exit(EXIT_DATAERR)


# ------------------------------------------------------------------------- trust-anchor


@audit_app.command("trust-anchor")
@handles_errors
def trust_anchor(
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="JWKS file to create or add new keys to (default: stdout)"
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Save every public signing key (incl. retired and next) as a JWKS to keep off the host;
    `idp audit verify --jwks FILE` then trusts only those keys."""
    from sqlalchemy import select

    from idp.keys.models import SigningKey

    kept: dict[str, Any] = {"keys": []}
    if output is not None:
        _check_writable(output, "output")
        if output.exists():
            try:
                kept = json.loads(output.read_text(encoding="utf-8"))
                assert isinstance(kept, dict) and isinstance(kept.get("keys"), list)
            except (OSError, ValueError, AssertionError):
                raise _fail("invalid_input", f"{output} exists and is not a JWKS file") from None
    with open_services() as services:
        services.keys.jwks()  # creates the first keys of a new installation
        with services.sessions() as session:
            rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
            current = [{**r.public_jwk, "kid": r.kid, "alg": r.alg, "use": "sig"} for r in rows]
    known = {k.get("kid"): k for k in kept["keys"] if isinstance(k, dict)}
    added = []
    for key in current:
        old = known.get(key["kid"])
        if old is None:
            kept["keys"].append(key)
            added.append(key["kid"])
        elif {k: v for k, v in old.items() if k not in ("alg", "use")} != {
            k: v for k, v in key.items() if k not in ("alg", "use")
        }:
            raise _fail(
                "trust_anchor_conflict",
                f"key {key['kid']} in the database differs from the one saved in {output}: "
                "the database's keys were changed",
                EXIT_DATAERR,
            )
    if output is None:
        typer.echo(json.dumps(kept, ensure_ascii=False))
        return
    tmp = output.with_name(f".{output.name}.{os.getpid()}.part")
    tmp.write_text(json.dumps(kept, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, output)
    data = {"file": str(output), "keys": len(kept["keys"]), "added": added}
    emit(
        as_json,
        data,
        lambda: typer.echo(
            f"{output}: {len(kept['keys'])} keys ({len(added)} added). Keep it off this "
            "host; refresh it after each `idp keys rotate`."
        ),
    )


def _check_writable(path: Path, name: str) -> None:
    """Refuse an output path that cannot be written before any work is done (exit 2)."""
    if path.is_dir():
        raise _fail("invalid_input", f"--{name} {path} is a directory, not a file")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise _fail("invalid_input", f"--{name} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _fail("invalid_input", f"--{name} {path}: not writable")


# -------------------------------------------------------------------------------- export


@audit_app.command("export")
@handles_errors
def export(
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write")],
    fmt: Annotated[str, typer.Option("--format", help="csv | ndjson")] = "csv",
    agency: Annotated[str | None, typer.Option(help="Agency code (with its subtree)")] = None,
    since: Annotated[str | None, typer.Option(help="From this date/time (UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="Before this date/time (UTC)")] = None,
    types: Annotated[
        list[str] | None, typer.Option("--type", help="Event type or prefix.* (repeatable)")
    ] = None,
    account: Annotated[str | None, typer.Option(help="Account id or e-mail")] = None,
    client: Annotated[str | None, typer.Option(help="client_id")] = None,
    outcome: Annotated[str | None, typer.Option(help="success | failure | ...")] = None,
    bom: Annotated[bool, typer.Option("--bom", help="UTF-8 BOM for Excel (CSV)")] = False,
    manifest: Annotated[
        Path | None, typer.Option(help="Manifest path (default FILE.manifest.json)")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Progress bar on a terminal")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Export events to CSV or NDJSON with a signed manifest; the export is audited."""
    from idp.auditing.export import Export
    from idp.db import transaction

    manifest_path = manifest or output.with_name(output.name + ".manifest.json")
    # Before anything is read or audited: a path that cannot be written is a typo.
    _check_writable(output, "output")
    _check_writable(manifest_path, "manifest")
    if manifest_path.resolve() == output.resolve():
        raise _fail("invalid_input", "--manifest must not be the export file itself")
    tmp = output.with_name(f".{output.name}.{os.getpid()}.part")
    started = time.perf_counter()
    with open_services() as services:
        services.keys.jwks()  # create the first keys now: SQLite has one writer at a time
        with _session(services) as session:
            filters = _filters(
                session, agency=agency, since=since, until=until, types=types,
                account=account, client=client, outcome=outcome,
            )  # fmt: skip
            job = Export(filters, fmt, bom=bom, actor="cli")
            total = job.count(session)
            try:
                with tmp.open("wb") as f, _progress(total, progress and not as_json) as advance:
                    for chunk in job.stream(session):
                        f.write(chunk)
                        advance(job.stats.count)
                os.replace(tmp, output)
            finally:
                tmp.unlink(missing_ok=True)
                with transaction(services.sessions) as rec:
                    document = job.record(rec, services.keys)
        manifest_path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    seconds = time.perf_counter() - started
    m = document["manifest"]
    data = {"file": str(output), "manifest_file": str(manifest_path), "seconds": seconds, **m}

    def human() -> None:
        rate = m["count"] / seconds if seconds else 0
        typer.echo(
            f"exported {m['count']} events (seq {m['first_seq']}–{m['last_seq']}) to {output}"
            f" ({m['bytes']:,} bytes, {seconds:.1f} s, {rate:,.0f} events/s)"
        )
        typer.echo(f"sha256 {m['sha256']}")
        typer.echo(f"signed manifest: {manifest_path} (check: idp audit verify-export)")

    emit(as_json, data, human)


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    if not (enabled and console.is_terminal):
        yield lambda _done: None
        return
    columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("export", total=total)
        yield lambda done: bar.update(task, completed=done)


# ------------------------------------------------------------------------- verify-export


@audit_app.command("verify-export")
@handles_errors
def verify_export(
    file: Annotated[Path, typer.Argument(help="The exported file")],
    manifest: Annotated[Path, typer.Argument(help="Its .manifest.json")],
    jwks: Annotated[
        Path | None, typer.Option(help="Trust this JWKS file instead of the database's keys")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check an export against its signed manifest (signature, SHA-256, every row)."""
    from idp.auditing.verify_export import jwks_verifier
    from idp.auditing.verify_export import verify_export as run

    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        if not file.is_file():
            raise FileNotFoundError(file)
        keyset = json.loads(jwks.read_text(encoding="utf-8")) if jwks else None
    except (OSError, ValueError) as exc:
        raise _fail("invalid_input", f"cannot read input: {exc}") from None
    if keyset is not None:
        report = run(file, doc, jwks_verifier(keyset))
    else:
        with open_services() as services:
            services.keys.jwks()  # an unavailable database is exit 69, not a mismatch
            report = run(file, doc, lambda t: services.keys.verify(t, archive=True))
    data = report.to_dict()
    if report.ok:
        emit(as_json, data, lambda: typer.echo(f"OK: {report.count} events; {report.message}"))
        return
    if as_json:
        typer.echo(json.dumps({"error": "audit_export_mismatch", **data}, ensure_ascii=False))
    else:
        typer.echo(f"MISMATCH ({report.problem}): {report.message}", err=True)
    raise typer.Exit(EXIT_DATAERR)


# --------------------------------------------------------------------------------- purge


@audit_app.command("purge")
@handles_errors
def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would go")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete events older than IDP_AUDIT_RETENTION_DAYS that a checkpoint covers."""
    from idp.auditing import retention
    from idp.db import transaction

    with open_services() as services, transaction(services.sessions) as session:
        days = services.settings.audit_retention_days
        if dry_run:
            result = retention.plan(session, services.keys, retention_days=days)
        else:
            result = retention.purge(session, services.keys, retention_days=days, actor="cli")
    data = {"dry_run": dry_run, "retention_days": days, **result.to_dict()}

    def human() -> None:
        if not result.count:
            typer.echo(f"nothing to purge ({result.reason})")
            return
        verb = "would delete" if dry_run else "deleted"
        typer.echo(
            f"{verb} {result.count} events (seq {result.first_seq}–{result.last_seq}) "
            f"older than {data['cutoff']} ({days} days)"
        )

    emit(as_json, data, human)


# -------------------------------------------------------------------------------- events


@audit_app.command("events")
@handles_errors
def events(
    agency: Annotated[str | None, typer.Option(help="Agency code (with its subtree)")] = None,
    since: Annotated[str | None, typer.Option(help="From this date/time (UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="Before this date/time (UTC)")] = None,
    types: Annotated[list[str] | None, typer.Option("--type", help="Type or prefix.*")] = None,
    account: Annotated[str | None, typer.Option(help="Account id or e-mail")] = None,
    client: Annotated[str | None, typer.Option(help="client_id")] = None,
    outcome: Annotated[str | None, typer.Option(help="success | failure | ...")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List events, newest first."""
    from idp.auditing import query

    with open_services() as services, _session(services) as session:
        filters = _filters(
            session, agency=agency, since=since, until=until, types=types,
            account=account, client=client, outcome=outcome,
        )  # fmt: skip
        page = query.list_events(session, filters, cursor=cursor, limit=limit)
    data = page.to_dict()

    def human() -> None:
        table(
            [
                (e["seq"], e["at"], e["type"], e["outcome"], e["actor"], e["subject"])
                for e in page.items
            ],
            ("seq", "at (UTC)", "type", "outcome", "actor", "subject"),
        )
        if page.next_cursor:
            typer.echo(f"more: --cursor {page.next_cursor}")

    emit(as_json, data, human)
