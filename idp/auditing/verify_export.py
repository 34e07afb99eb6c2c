"""Check an exported file against its signed manifest (``idp audit verify-export``).

1. The manifest's JWS verifies with a GovID key (any key ever used, or a JWKS file given
   by the recipient) and says exactly what the readable part of the manifest says.
2. The file's SHA-256 and size are the signed ones (any change to the file fails here).
3. Every row re-hashes to its ``hash`` with its ``prev_hash`` (the rows are genuine chain
   rows), seqs increase, and count, first and last seq/hash are the signed ones. An
   export without filters must also be one unbroken piece of the chain.
4. The manifest says the export is complete (``complete: true``); a download that stopped
   early is signed as incomplete and fails as ``incomplete_export``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from idp.audit.chain import COLUMNS, hash_material
from idp.auditing.export import MANIFEST_TYP
from idp.auditing.formats import HEADER, unescape_cell

JwsVerifier = Callable[[str], tuple[dict[str, Any], dict[str, Any]]]
_CHUNK = 1 << 20


@dataclass
class ExportCheck:
    ok: bool = True
    problem: str | None = None
    message: str = "the export matches its signed manifest"
    count: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    sha256: str | None = None
    manifest: dict[str, Any] | None = None

    def fail(self, problem: str, message: str) -> ExportCheck:
        self.ok, self.problem, self.message = False, problem, message
        return self

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        if tuple(next(reader, ())) != HEADER:
            raise ValueError("the CSV header is not GovID's")
        for cells in reader:
            if len(cells) != len(HEADER):
                raise ValueError(f"line {reader.line_num}: {len(cells)} cells")
            row: dict[str, Any] = {}
            for name, cell in zip(HEADER, cells, strict=True):
                value = unescape_cell(cell)
                row[name] = value if value != "" else None
            row["seq"] = int(row["seq"])
            row["details"] = json.loads(row["details"] or "{}")
            yield row


def _ndjson_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            row = json.loads(line)
            if not isinstance(row, dict) or set(row) != set(HEADER):
                raise ValueError(f"line {n}: not a GovID audit row")
            yield row


def _file_digest(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def verify_export(path: Path, manifest_doc: Any, verify_jws: JwsVerifier) -> ExportCheck:
    check = ExportCheck()
    if not isinstance(manifest_doc, dict) or not isinstance(manifest_doc.get("jws"), str):
        return check.fail("manifest_invalid", "the manifest is not a GovID export manifest")
    try:
        header, claims = verify_jws(manifest_doc["jws"])
    except SQLAlchemyError:
        raise  # the database's keys are unavailable: not a verdict on the export (exit 69)
    except Exception as exc:  # InvalidToken, or anything a foreign JWKS makes joserfc raise
        return check.fail("manifest_signature", f"the manifest signature does not verify: {exc}")
    check.manifest = claims
    if header.get("typ") != MANIFEST_TYP:
        return check.fail("manifest_signature", "the signature is not over an export manifest")
    if manifest_doc.get("manifest") != claims:
        return check.fail("manifest_altered", "the manifest text differs from what was signed")
    check.sha256, size = _file_digest(path)
    if (check.sha256, size) != (claims.get("sha256"), claims.get("bytes")):
        return check.fail(
            "file_altered", "the file's SHA-256 or size is not the one in the signed manifest"
        )
    rows = _csv_rows(path) if claims.get("format") == "csv" else _ndjson_rows(path)
    contiguous = not (set(claims.get("filters") or {}) - {"from_seq", "to_seq"})
    prev: dict[str, Any] | None = None
    try:
        for row in rows:
            problem = _check_row(row, prev, contiguous)
            if problem:
                return check.fail(*problem)
            check.count += 1
            check.first_seq = check.first_seq or row["seq"]
            check.last_seq, prev = row["seq"], row
    except (ValueError, KeyError, TypeError) as exc:
        return check.fail("file_unreadable", f"the file cannot be read as an export: {exc}")
    signed = (claims.get("count"), claims.get("first_seq"), claims.get("last_seq"))
    if (check.count, check.first_seq, check.last_seq) != signed:
        return check.fail("count_mismatch", "rows, first or last seq differ from the manifest")
    if prev is not None and prev["hash"] != claims.get("last_hash"):
        return check.fail("count_mismatch", "the last row's hash differs from the manifest")
    if claims.get("complete") is False:
        # The file is what was sent, but the sending stopped early (an HTTP download the
        # client abandoned): it is not the export that was asked for.
        upto = claims.get("up_to_seq")
        return check.fail(
            "incomplete_export",
            f"the file matches its signed manifest, but the manifest records an incomplete "
            f"export: the download stopped after {check.count} events"
            + (f" (the log then ended at seq {upto})" if upto is not None else "")
            + "; export again",
        )
    return check


def _check_row(
    row: dict[str, Any], prev: dict[str, Any] | None, contiguous: bool
) -> tuple[str, str] | None:
    material = {name: row[name] for name in COLUMNS}
    if hash_material(row["prev_hash"], material) != row["hash"]:
        return "row_altered", f"row seq {row['seq']} does not hash to its hash"
    if prev is not None:
        if row["seq"] <= prev["seq"]:
            return "row_order", f"row seq {row['seq']} comes after seq {prev['seq']}"
        if contiguous and (row["seq"] != prev["seq"] + 1 or row["prev_hash"] != prev["hash"]):
            return "row_missing", f"the chain breaks between seq {prev['seq']} and {row['seq']}"
    return None


def jwks_verifier(jwks: dict[str, Any]) -> JwsVerifier:
    """Verify with a JWKS the recipient trusts (e.g. saved from ``/jwks``), offline."""
    from joserfc import jwt
    from joserfc.jwk import KeySet

    keyset = KeySet.import_key_set(jwks)  # type: ignore[arg-type]

    def verify(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        # Asymmetric algorithms only (RFC 8725 §3.1).
        decoded = jwt.decode(token, keyset, algorithms=["RS256", "ES256"])
        return dict(decoded.header), dict(decoded.claims)

    return verify


class JwksKeys:
    """A key set kept outside the database (``idp audit verify --jwks FILE``), with the
    ``verify`` of ``KeyRing`` that ``idp.auditing.verify`` needs."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError('not a JWKS (a JSON object with "keys")')
        self._jwks = jwks
        self._verify = jwks_verifier(jwks)

    def jwks(self) -> dict[str, Any]:
        return self._jwks

    def sign(self, claims: dict[str, Any], *, alg: str = "RS256", typ: str = "JWT") -> str:
        raise NotImplementedError("a public key set cannot sign")

    def verify(
        self, token: str, *, algorithms: tuple[str, ...] = ("RS256", "ES256"), archive: bool = True
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        from idp.keys.service import InvalidToken

        try:
            return self._verify(token)
        except Exception as exc:  # whatever joserfc raises for a kid or signature
            raise InvalidToken(f"not signed by a key in the given key set ({exc})") from exc
