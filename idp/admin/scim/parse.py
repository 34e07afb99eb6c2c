"""Type-safe reading of SCIM User input (RFC 7643 §2, §4; RFC 7644 §3.3, §3.5, §3.12), in
ONE place: POST and PUT bodies and every PATCH operation go through ``read_user``, which
checks each attribute's JSON type and limits (the admin API's own field types) and
returns plain, typed values. Anything else is a ``ScimInvalid`` (400 with a scimType).
No web framework here.

Attribute names are case-insensitive (RFC 7643 §2.1), schema URNs too. In POST and PUT,
read-only and unknown attributes are ignored (RFC 7644 §3.3, §3.5.1); in PATCH an
unknown path is ``invalidPath`` and a read-only or immutable one ``mutability``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import StringConstraints, TypeAdapter, ValidationError

from idp.admin.schemas import Code, Email, Name, Text
from idp.errors import InvalidInput

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GOVID = "urn:govid:params:scim:schemas:extension:2.0:User"
MAX_PASSWORD = 1024


class ScimInvalid(InvalidInput):
    """Bad SCIM input; ``scim_type`` is the RFC 7644 §3.12 scimType."""

    code = "invalid_input"

    def __init__(self, message: str, scim_type: str = "invalidValue", field: str | None = None):
        super().__init__(message, field=field)
        self.scim_type = scim_type


def _adapter(tp: Any) -> TypeAdapter:
    return TypeAdapter(tp, config={"strict": True})


_NAME = _adapter(Name | None)
_TEXT = _adapter(Text | None)
_EMAIL = _adapter(Email)
_CODE = _adapter(Code)
_BOOL = _adapter(bool)
_LOCALE = _adapter(Literal["th", "en"])
_PASSWORD = _adapter(Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD)])


@dataclass(frozen=True)
class Attr:
    """One writable attribute: where it goes (``key``) and its type."""

    key: str
    adapter: TypeAdapter
    mutability: str = "readWrite"  # readWrite | immutable | writeOnly (RFC 7643 §7)
    removable: bool = False


# Canonical (lower-case) attribute path -> attribute. Schema-qualified paths of the
# extensions are "<urn lower-case>:<attr lower-case>".
ATTRS: dict[str, Attr] = {
    "username": Attr("user_name", _EMAIL, "immutable"),
    "name.givenname": Attr("given_name_en", _NAME, removable=True),
    "name.familyname": Attr("family_name_en", _NAME, removable=True),
    "externalid": Attr("external_id", _TEXT, removable=True),
    "active": Attr("active", _BOOL),
    "preferredlanguage": Attr("locale", _LOCALE),
    "password": Attr("password", _PASSWORD, "writeOnly"),
    f"{ENTERPRISE.lower()}:department": Attr("department", _CODE, "immutable"),
    f"{GOVID.lower()}:givennameth": Attr("given_name_th", _NAME, removable=True),
    f"{GOVID.lower()}:familynameth": Attr("family_name_th", _NAME, removable=True),
}
# Read-only (computed) attributes: ignored in POST/PUT, refused as a PATCH path.
READ_ONLY = {
    "id",
    "meta",
    "schemas",
    "displayname",
    "emails",
    "name.formatted",
    "groups",
    f"{ENTERPRISE.lower()}:organization",
    f"{GOVID.lower()}:mailboxquotamb",
}
COMPLEX = {"name", ENTERPRISE.lower(), GOVID.lower()}


def _check(path: str, attr: Attr, value: Any) -> Any:
    try:
        value = attr.adapter.validate_python(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ScimInvalid(f"{path}: {err['msg']}", "invalidValue", path) from None
    if attr.key in ("given_name_en", "family_name_en", "given_name_th", "family_name_th"):
        return value or ""  # null clears a name
    return value


def _flatten(body: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """{canonical path: (path as sent, value)} of a resource-shaped JSON object; complex
    attributes (``name`` and the extension objects) must be objects."""
    out: dict[str, tuple[str, Any]] = {}
    for key, value in body.items():
        low = key.lower()
        if low.startswith(USER.lower() + ":"):  # core attributes may be schema-qualified
            low = low[len(USER) + 1 :]
        if low in COMPLEX:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ScimInvalid(f"{key} must be an object", "invalidValue", key)
            for sub, sub_value in value.items():
                sep = "." if low == "name" else ":"
                out[f"{low}{sep}{sub.lower()}"] = (f"{key}{sep}{sub}", sub_value)
        else:
            out[low] = (key, value)
    return out


def read_user(body: dict[str, Any], *, patch: bool = False) -> dict[str, Any]:
    """Typed values of the writable attributes in ``body`` ({Attr.key: value}), plus
    ``primary_email`` from ``emails`` when it names one (POST/PUT)."""
    out: dict[str, Any] = {}
    for low, (path, value) in _flatten(body).items():
        attr = ATTRS.get(low)
        if attr is not None:
            out[attr.key] = _check(path, attr, value)
            continue
        if low == "emails" and not patch:
            email = _primary_email(value)
            if email is not None:
                out["primary_email"] = email
            continue
        if not patch:
            continue  # read-only or unknown: ignored (RFC 7644 §3.3)
        if low in READ_ONLY or low.split(".")[0] in READ_ONLY:
            raise ScimInvalid(f"{path} is read-only", "mutability", path)
        raise ScimInvalid(f"no attribute {path!r}", "invalidPath", path)
    return out


def _primary_email(emails: Any) -> str | None:
    if emails is None:
        return None
    if not isinstance(emails, list) or not all(isinstance(e, dict) for e in emails):
        raise ScimInvalid("emails must be a list of objects", "invalidValue", "emails")
    chosen = next((e for e in emails if e.get("primary") is True), emails[0] if emails else None)
    if chosen is None:
        return None
    return _check("emails.value", ATTRS["username"], chosen.get("value"))


def path_body(path: Any, value: Any) -> dict[str, Any]:
    """A PATCH ``path`` (RFC 7644 §3.5.2) and value as a resource-shaped object, so that
    ``read_user`` checks it like any body. Value filters (``emails[...]``) are not
    supported: invalidPath."""
    if not isinstance(path, str) or not path or len(path) > 512:
        raise ScimInvalid("path must be a non-empty string", "invalidPath", "path")
    if "[" in path or "]" in path:
        raise ScimInvalid(f"filtered path {path!r} is not supported", "invalidPath", "path")
    low = path.lower()
    for urn in (ENTERPRISE, GOVID):
        if low == urn.lower():
            return {urn: value}
        if low.startswith(urn.lower() + ":"):
            return {urn: {path[len(urn) + 1 :]: value}}
    if low.startswith(USER.lower() + ":"):
        path = path[len(USER) + 1 :]
    head, dot, tail = path.partition(".")
    if dot:
        if head.lower() != "name":
            raise ScimInvalid(f"no attribute {path!r}", "invalidPath", "path")
        return {head: {tail: value}}
    return {path: value}


def removable(path: Any) -> str:
    """The Attr.key a PATCH ``remove`` clears; only optional attributes can be removed."""
    body = path_body(path, None)
    key, value = next(iter(body.items()))
    flat = _flatten({key: value if value is not None else {}}) if isinstance(value, dict) else {}
    low = next(iter(flat)) if flat else key.lower()
    attr = ATTRS.get(low)
    if attr is None:
        if low in READ_ONLY or low in COMPLEX:
            raise ScimInvalid(f"{path} cannot be removed", "mutability", "path")
        raise ScimInvalid(f"no attribute {path!r}", "invalidPath", "path")
    if not attr.removable:
        raise ScimInvalid(f"{path} cannot be removed", "mutability", "path")
    return attr.key
