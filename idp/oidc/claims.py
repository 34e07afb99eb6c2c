"""Claims: ID token contents, userinfo by scope (DESIGN §5), and the `claims` request
parameter (OIDC Core §5.5)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from authlib.common.encoding import urlsafe_b64encode
from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.accounts.roles import active_grants
from idp.agencies import service as agencies
from idp.agencies.models import Agency
from idp.clients.models import Client
from idp.resources.service import SCOPES_SUPPORTED  # noqa: F401 (discovery, server)
from idp.tokens.liveness import AccountView

if TYPE_CHECKING:
    from idp.oidc.context import OidcContext
    from idp.tokens.models import Grant

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name",
        "given_name",
        "family_name",
        "locale",
        "name#th",
        "given_name#th",
        "family_name#th",
        "name#en",
        "given_name#en",
        "family_name#en",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "govid": ("agency", "agency_path", "roles"),
    "citizen_id": ("citizen_id",),
}
CLAIMS_SUPPORTED = sorted(
    {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash"}
    | {c for cs in SCOPE_CLAIMS.values() for c in cs}
)
# Individual user claims an RP may ask for with the `claims` parameter (never citizen_id,
# which needs its scope, an allowed client and level 2).
REQUESTABLE = {c for cs in SCOPE_CLAIMS.values() for c in cs} - {"citizen_id"}


class ClaimsRequestError(ValueError):
    pass


def parse_claims_request(raw: str | None) -> dict[str, Any] | None:
    """OIDC Core §5.5: a JSON object with optional `userinfo` and `id_token` members."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ClaimsRequestError("'claims' is not valid JSON") from exc
    if not isinstance(value, dict):
        raise ClaimsRequestError("'claims' must be a JSON object")
    out: dict[str, Any] = {}
    for member in ("userinfo", "id_token"):
        part = value.get(member)
        if part is None:
            continue
        if not isinstance(part, dict) or not all(
            v is None or isinstance(v, dict) for v in part.values()
        ):
            raise ClaimsRequestError(f"'claims.{member}' must map claim names to null or objects")
        out[member] = part
    return out


def requestable_for(client: Client) -> set[str]:
    """Claims this client may ask for one by one with the `claims` parameter: those of
    the scopes it is registered for (never citizen_id, which keeps its own rule). The
    parameter selects claims; it does not widen what the client may see."""
    registered = set(client.scopes or [])
    return {
        c for scope, names in SCOPE_CLAIMS.items() if scope in registered for c in names
    } & REQUESTABLE


def claim_scopes(claims_request: dict | None, client: Client) -> set[str]:
    """The scopes whose claims the `claims` parameter asks for individually (in the ID
    token or at userinfo), among those the client may ask for: the person's consent must
    cover them as if they had been requested as scopes (OIDC Core §3.1.2.4, §5.5)."""
    asked: set[str] = set()
    for member in ("id_token", "userinfo"):
        asked |= set(((claims_request or {}).get(member) or {}).keys())
    asked &= requestable_for(client)
    return {scope for scope, names in SCOPE_CLAIMS.items() if asked & set(names)}


def requested_sub(claims_request: dict | None) -> str | None:
    """A `sub` asked for with a value in the ID token (OIDC Core §5.5.1): the request is
    then only for that person."""
    spec = ((claims_request or {}).get("id_token") or {}).get("sub")
    if isinstance(spec, dict) and isinstance(spec.get("value"), str):
        return spec["value"]
    return None


def requested_acr(claims_request: dict | None) -> tuple[list[str], bool]:
    """Values asked for `acr` in claims.id_token, and whether they are essential."""
    spec = ((claims_request or {}).get("id_token") or {}).get("acr") or {}
    values = spec.get("values") or ([spec["value"]] if "value" in spec else [])
    return [v for v in values if isinstance(v, str)], bool(spec.get("essential"))


def _half_hash(value: str) -> str:
    # OIDC Core §3.1.3.6: left-most half of SHA-256 (RS256 and ES256 both use SHA-256).
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return urlsafe_b64encode(digest[: len(digest) // 2]).decode()


def user_claims(
    db: Session | Callable[[], Session],
    account: Account | AccountView,
    names: set[str],
    now: dt.datetime,
) -> dict[str, Any]:
    """The values of the named claims for an account (only those it has). ``db`` is a
    session or a function giving one: it is asked for only by ``agency_path`` and
    ``roles`` (an event-loop read has none, ``idp.oidc.userinfo``)."""
    out: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if name in names and value not in (None, ""):
            out[name] = value

    full_en = f"{account.given_name_en} {account.family_name_en}".strip()
    full_th = f"{account.given_name_th} {account.family_name_th}".strip()
    # `name`, `given_name` and `family_name` come from ONE language, so they always agree
    # (OIDC Core §5.1: given + family make up name): the account's locale when it has a
    # name in that language, else the language it has a name in. An account with English
    # names only gets all three in English, whatever its locale.
    thai = (account.locale == "th" and full_th) or not full_en
    put("name", full_th if thai else full_en)
    put("given_name", account.given_name_th if thai else account.given_name_en)
    put("family_name", account.family_name_th if thai else account.family_name_en)
    put("locale", account.locale)
    # OIDC Core §5.2: language-tagged claims.
    put("name#th", full_th)
    put("given_name#th", account.given_name_th)
    put("family_name#th", account.family_name_th)
    put("name#en", full_en)
    put("given_name#en", account.given_name_en)
    put("family_name#en", account.family_name_en)
    if "updated_at" in names:
        out["updated_at"] = int(account.updated_at.timestamp())
    put("email", account.email)
    if "email_verified" in names:
        # The mailbox is issued by the government mail service itself.
        out["email_verified"] = True
    # A view (idp.tokens.liveness) carries every column these read from the rows.
    agency = cast(Agency, account.agency)
    if "agency" in names:
        out["agency"] = agencies.claim(agency)  # loaded with the account
    if "agency_path" in names:
        ancestors = agencies.ancestors(_session(db), agency, include_self=True)
        out["agency_path"] = [a.code for a in ancestors]
    if "roles" in names:
        grants = active_grants(_session(db), cast(Account, account), now)
        out["roles"] = sorted({g.role for g in grants})
    return out


def _session(db: Session | Callable[[], Session]) -> Session:
    return db() if callable(db) else db


def allowed_claim_names(scope: str, client: Client, acr: str | None, level2: str) -> set[str]:
    names: set[str] = set()
    scopes = set(scope.split())
    for s, claim_names in SCOPE_CLAIMS.items():
        if s in scopes:
            names.update(claim_names)
    # The citizen ID leaves only with its scope, to an allowed client, at level 2.
    if not (client.allow_citizen_id and acr == level2):
        names.discard("citizen_id")
    return names


def citizen_id_claim(ctx: OidcContext, account: Account | AccountView) -> dict[str, str]:
    from idp.accounts.service import CITIZEN_ID_PURPOSE

    if not account.citizen_id_enc:
        return {}
    return {
        "citizen_id": ctx.services.cipher.decrypt(
            account.citizen_id_enc, CITIZEN_ID_PURPOSE
        ).decode()
    }


def userinfo(
    ctx: OidcContext,
    *,
    account: Account | AccountView,
    client: Client,
    scope: str,
    acr: str | None,
    claims_request: dict | None,
) -> dict[str, Any]:
    allowed = allowed_claim_names(scope, client, acr, ctx.settings.acr_level2)
    # OIDC Core §5.5: `claims.userinfo` may ask for individual claims; they are still
    # limited to what this client may see (and the consent covered them at /authorize).
    extra = set(((claims_request or {}).get("userinfo") or {}).keys())
    names = allowed | (extra & requestable_for(client))
    out = {"sub": str(account.id)}
    out.update(user_claims(lambda: ctx.db, account, names, ctx.services.clock.now()))
    if "citizen_id" in allowed:
        out.update(citizen_id_claim(ctx, account))
    return out


def build_id_token(
    ctx: OidcContext,
    *,
    client: Client,
    account: Account,
    grant: Grant,
    nonce: str | None,
    access_token: str | None,
) -> str:
    at = ctx.services.clock.now()  # DESIGN rule 4: the RP checks iat/exp
    now = int(at.timestamp())
    claims: dict[str, Any] = {
        "iss": ctx.issuer,
        "sub": str(account.id),
        "aud": client.client_id,
        "iat": now,
        "exp": now + ctx.settings.id_token_ttl,
        "auth_time": int(grant.auth_time.timestamp()) if grant.auth_time else now,
        "acr": grant.acr,
        "amr": list(grant.amr or []),
    }
    if grant.sid:
        claims["sid"] = grant.sid
    if nonce:
        claims["nonce"] = nonce
    if access_token:
        claims["at_hash"] = _half_hash(access_token)
    # Claims asked for in the ID token itself (OIDC Core §5.5), within what the scope and
    # client allow; citizen_id keeps its own rule.
    wanted = set(((grant.claims or {}).get("id_token") or {}).keys())
    allowed = allowed_claim_names(grant.scope, client, grant.acr, ctx.settings.acr_level2)
    names = wanted & (allowed | requestable_for(client))
    claims.update(user_claims(ctx.db, account, names - {"citizen_id"}, at))
    if "citizen_id" in names:
        claims.update(citizen_id_claim(ctx, account))
    return ctx.keys.sign(claims, alg=client.id_token_signed_response_alg, typ="JWT")
