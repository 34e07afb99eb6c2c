"""Agency logos for the pages' frame: an operator uploads an agency's logo, and
the sign-in pages show it beside the agency's name for the apps of that agency (or of an
agency below it that has none of its own).

Only PNG and JPEG, recognised by their signature (PNG, RFC 2083 §3.1; JPEG's SOI marker)
and matching the declared type: no SVG (it can carry script) and nothing a browser could
sniff into something else. At most ``MAX_BYTES``. Served under a name holding the
content's hash, so it can be cached for a year and a new upload shows at once."""

from __future__ import annotations

import hashlib
import struct
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.agencies.models import Agency, AgencyLogo
from idp.audit import service as audit
from idp.authz.caller import agency_in_scope
from idp.authz.context import Ctx
from idp.errors import InvalidInput

MAX_BYTES = 100 * 1024
MAX_SIDE = 2048  # pixels, either side (a PNG says; a header banner needs far fewer)
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


def check_image(data: bytes, content_type: str) -> str:
    """The stored type of an upload, or InvalidInput saying what is wrong."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype not in ("image/png", "image/jpeg"):
        raise InvalidInput("a logo must be image/png or image/jpeg", field="logo")
    if not data:
        raise InvalidInput("the logo is empty", field="logo")
    if len(data) > MAX_BYTES:
        raise InvalidInput(
            f"the logo is {len(data)} bytes; at most {MAX_BYTES} bytes", field="logo"
        )
    if ctype == "image/png":
        # The signature, then the IHDR chunk: length 13, type, width, height.
        if not data.startswith(_PNG) or len(data) < 24 or data[12:16] != b"IHDR":
            raise InvalidInput("this is not a PNG image", field="logo")
        width, height = struct.unpack(">II", data[16:24])
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            raise InvalidInput(
                f"the logo is {width}x{height} pixels; at most {MAX_SIDE} a side", field="logo"
            )
    elif not data.startswith(_JPEG) or not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        raise InvalidInput("this is not a JPEG image", field="logo")
    return ctype


def set_logo(ctx: Ctx, agency_id, data: bytes, content_type: str) -> AgencyLogo:
    """Operators only (``agencies:write``), like the agency's other public details."""
    agency = agency_in_scope(ctx.db, ctx.scope("agencies:write"), agency_id)
    ctype = check_image(data, content_type)
    digest = hashlib.sha256(data).hexdigest()
    row = ctx.db.get(AgencyLogo, agency.id)
    before = row.sha256 if row is not None else None
    if row is None:
        row = AgencyLogo(agency_id=agency.id, content_type=ctype, data=data, sha256=digest)
        ctx.db.add(row)
    else:
        row.content_type, row.data, row.sha256 = ctype, data, digest
    ctx.db.flush()
    audit.record(
        ctx.db,
        "admin.agency.logo_set",
        actor=ctx.actor,
        agency_id=agency.id,
        subject=str(agency.id),
        details={"content_type": ctype, "bytes": len(data), "sha256": digest, "before": before},
    )
    return row


def remove_logo(ctx: Ctx, agency_id) -> bool:
    agency = agency_in_scope(ctx.db, ctx.scope("agencies:write"), agency_id)
    row = ctx.db.get(AgencyLogo, agency.id)
    if row is None:
        return False
    ctx.db.delete(row)
    ctx.db.flush()
    audit.record(
        ctx.db,
        "admin.agency.logo_removed",
        actor=ctx.actor,
        agency_id=agency.id,
        subject=str(agency.id),
        details={"sha256": row.sha256},
    )
    return True


def logo_path(db: Session, agency: Agency) -> str | None:
    """Where the pages find the logo shown for ``agency``: its own, else the nearest
    agency's above it (one query over the ids in its path); None when none has one."""
    ids = [uuid.UUID(hex=part) for part in agency.path.strip("/").split("/")]
    found = dict(
        db.execute(
            select(AgencyLogo.agency_id, AgencyLogo.sha256).where(AgencyLogo.agency_id.in_(ids))
        ).all()
    )
    for i in reversed(ids):
        if i in found:
            return f"/agency-logos/{i.hex}/{found[i][:16]}"
    return None


def served(db: Session, agency_id: uuid.UUID, version: str) -> AgencyLogo | None:
    """The logo at the path ``logo_path`` gave, while it is the current one."""
    row = db.get(AgencyLogo, agency_id)
    return row if row is not None and row.sha256[:16] == version else None
