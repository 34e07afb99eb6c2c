"""Exports: CSV/NDJSON content, formula guard, BOM and Thai, signed manifest, audit,
verify-export catching changes, early stop, constant memory."""

import csv
import hashlib
import io
import json
import tracemalloc

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from idp.audit import service as audit
from idp.audit.models import AuditEvent
from idp.auditing.export import Export, manifest_for, stream_and_record
from idp.auditing.formats import HEADER, unescape_cell
from idp.auditing.query import EventFilter
from idp.auditing.verify_export import jwks_verifier, verify_export
from idp.errors import InvalidInput, NotFound
from tests import factories
from tests.audit.helpers import fast_chain

HOSTILE = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "'quoted", "plain ไทย"]


@pytest.fixture
def world(db, unique):
    t = factories.tree(db, unique)
    for i, value in enumerate(HOSTILE):
        audit.record(
            db,
            "admin.account.suspended",
            agency_id=t["office1"].id,
            actor=value,
            subject=f"s-{i}",
            user_agent=value,
            details={"reason": f"เหตุผล {value}"},
        )
    audit.record(db, "admin.account.resumed", agency_id=t["other"].id, actor="elsewhere")
    return t


def run(db, ring, job, tmp_path):
    data = b"".join(job.stream(db))
    doc = job.record(db, ring)
    path = tmp_path / job.filename
    path.write_bytes(data)
    return data, doc, path


def verifier(ring):
    return lambda token: ring.verify(token, archive=True)


def test_csv_is_formula_safe_thai_readable_and_filtered(db, ring, world, tmp_path):
    job = Export(EventFilter(agency=world["dept"]), "csv", bom=True, actor="auditor-1")
    data, doc, path = run(db, ring, job, tmp_path)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == HEADER
    body = [dict(zip(HEADER, r, strict=True)) for r in rows[1:]]
    body = [r for r in body if r["type"] == "admin.account.suspended"]
    assert len(body) == len(HOSTILE)
    assert all(r["actor"] != "elsewhere" for r in body)  # another agency
    for r, value in zip(body, HOSTILE, strict=True):
        for cell in (r["actor"], r["user_agent"]):
            assert cell[0] not in "=+-@\t\r"
            assert unescape_cell(cell) == value
        assert json.loads(r["details"])["reason"] == f"เหตุผล {value}"  # Thai, not \\u0e..
    assert "เหตุผล" in data.decode("utf-8-sig")
    assert verify_export(path, doc, verifier(ring)).ok


def test_tab_and_cr_at_the_start_of_a_cell_are_guarded(db, ring, world):
    seq = db.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()))
    # record() turns tab/CR into spaces; a row written behind its back still gets guarded.
    db.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(ip="\tcmd", actor="\rx"))
    job = Export(EventFilter(from_seq=seq, to_seq=seq), "csv")
    text = b"".join(job.stream(db)).decode()
    row = next(r for r in csv.reader(io.StringIO(text, newline="")) if r[0] == str(seq))
    assert row[HEADER.index("ip")] == "'\tcmd" and row[HEADER.index("actor")] == "'\rx"


def test_ndjson_rows_are_the_events(db, ring, world, tmp_path):
    job = Export(EventFilter(agency=world["office1"]), "ndjson")
    data, doc, path = run(db, ring, job, tmp_path)
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert all(list(obj) == list(HEADER) for obj in lines)
    hostile = [o for o in lines if o["type"] == "admin.account.suspended"]
    assert [o["actor"] for o in hostile] == HOSTILE  # raw values: JSON needs no guard
    assert hostile[0]["details"] == {"reason": f"เหตุผล {HOSTILE[0]}"}
    assert verify_export(path, doc, verifier(ring)).ok
    with pytest.raises(InvalidInput):
        Export(EventFilter(), "ndjson", bom=True)
    with pytest.raises(InvalidInput):
        Export(EventFilter(), "xlsx")


def test_manifest_is_signed_and_the_export_is_audited(db, ring, world, tmp_path):
    job = Export(EventFilter(agency=world["ministry"]), "csv", actor="auditor-1")
    data, doc, _ = run(db, ring, job, tmp_path)
    header, claims = ring.verify(doc["jws"], archive=True)
    assert header["typ"] == "govid-audit-manifest+jwt" and claims == doc["manifest"]
    m = doc["manifest"]
    assert m["filters"] == {"agency": world["ministry"].code}
    assert m["count"] == len(data.decode().splitlines()) - 1
    assert m["bytes"] == len(data) and m["complete"] is True
    assert m["first_seq"] <= m["last_seq"] <= m["up_to_seq"]
    ev = db.get(AuditEvent, m["audit_seq"])
    assert (ev.type, ev.subject, ev.actor) == ("audit.export.created", job.export_id, "auditor-1")
    assert ev.agency_id == world["ministry"].id and ev.details["sha256"] == m["sha256"]
    # The manifest can be fetched again later (GET .../exports/{id}/manifest).
    again = manifest_for(db, ring, job.export_id, scope=world["ministry"])
    assert again["manifest"] == m
    with pytest.raises(NotFound):
        manifest_for(db, ring, job.export_id, scope=world["other"])


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_verify_export_catches_changes(db, ring, world, tmp_path, fmt):
    data, doc, path = run(db, ring, Export(EventFilter(), fmt), tmp_path)
    assert verify_export(path, doc, jwks_verifier(ring.jwks())).ok  # offline, with a JWKS
    path.write_bytes(data.replace(b"elsewhere", b"elsewhera"))
    assert verify_export(path, doc, verifier(ring)).problem == "file_altered"
    path.write_bytes(data)
    forged = {**doc, "manifest": {**doc["manifest"], "count": 1}}
    assert verify_export(path, forged, verifier(ring)).problem == "manifest_altered"
    other = {**doc, "jws": doc["jws"][:-8] + "AAAAAAAA"}
    assert verify_export(path, other, verifier(ring)).problem == "manifest_signature"
    # Even a manifest re-signed over an edited file (an insider with the key) fails:
    # the edited row no longer hashes to its own hash.
    edited = data.replace(b"elsewhere", b"elsewhera")
    path.write_bytes(edited)
    claims = {**doc["manifest"], "sha256": hashlib.sha256(edited).hexdigest()}
    resigned = {"manifest": claims, "jws": ring.sign(claims, typ="govid-audit-manifest+jwt")}
    assert verify_export(path, resigned, verifier(ring)).problem == "row_altered"


def test_unfiltered_export_must_be_one_unbroken_piece(db, ring, world, tmp_path):
    data, doc, path = run(db, ring, Export(EventFilter(), "ndjson"), tmp_path)
    lines = data.decode().splitlines(keepends=True)
    del lines[len(lines) // 2]
    edited = "".join(lines).encode()
    path.write_bytes(edited)
    m = {
        **doc["manifest"],
        "sha256": hashlib.sha256(edited).hexdigest(),
        "bytes": len(edited),
    }
    resigned = {"manifest": m, "jws": ring.sign(m, typ="govid-audit-manifest+jwt")}
    assert verify_export(path, resigned, verifier(ring)).problem == "row_missing"


def test_an_interrupted_download_is_still_audited(db, ring, world):
    factory = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
    job = Export(EventFilter(), "csv", actor="auditor-2")
    body = stream_and_record(factory, ring, job)
    next(body)  # the client reads the first chunk and goes away
    body.close()
    ev = db.scalar(select(AuditEvent).where(AuditEvent.subject == job.export_id))
    assert ev.type == "audit.export.created" and ev.outcome == "failure"
    assert ev.details["complete"] is False


def test_memory_stays_flat_as_the_export_grows(db, ring, backend):
    """Peak Python memory while streaming 4x more rows stays about the same."""

    def peak(n: int, fmt: str) -> int:
        job = Export(EventFilter(from_seq=start, to_seq=start + n - 1), fmt)
        tracemalloc.start()
        size = sum(len(chunk) for chunk in job.stream(db))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert job.stats.count == n and size > n * 300
        return top

    start = (db.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())) or 0) + 1
    fast_chain(db, 12000)
    for fmt in ("csv", "ndjson"):
        small, big = peak(3000, fmt), peak(12000, fmt)
        assert big < small * 1.5 + 512 * 1024, (fmt, small, big)
        assert big < 16 * 1024 * 1024
