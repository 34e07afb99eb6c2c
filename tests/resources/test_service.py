"""API resources (RFC 8707) in the domain: registration rules, who may use an API, and
the client-registration scope check. Runs on PostgreSQL and SQLite."""

import pytest
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.clients import service as clients
from idp.clients.models import Client
from idp.errors import Conflict, InvalidInput, NotFound
from idp.resources import registration
from idp.resources import service as apis
from tests import factories

ISSUER = "http://127.0.0.1:8000"


@pytest.fixture
def tree(db, unique):
    return factories.tree(db, unique)


def new_api(db, tree, u, name="pop", agency="dept", **kw):
    data = registration.NewApi(
        agency_code=tree[agency].code,
        identifier=kw.pop("identifier", f"https://{name}-{u}.example.go.th/"),
        name_th=f"ระบบ {name}",
        name_en=f"API {name}",
        scopes=kw.pop("scopes", (f"{name}-{u}:read", f"{name}-{u}:write")),
        **kw,
    )
    return registration.create(db, data, issuer=ISSUER, actor="test")


def app(db, tree, agency, scopes, u, name="app"):
    c, _ = clients.create(
        db,
        clients.NewClient(
            agency_code=tree[agency].code,
            name_th=name,
            name_en=name,
            grant_types=("client_credentials",),
            scopes=scopes,
            client_id=f"{name}-{agency}-{u}",
        ),
    )
    return c


def events(db, event_type):
    return db.scalars(select(AuditEvent).where(AuditEvent.type == event_type)).all()


def test_register_an_api_with_introspection_credentials(db, tree, unique):
    api, secret = new_api(db, tree, unique)
    assert api.status == "active" and api.shared_with == "agency" and api.introspection
    assert apis.scopes_of(db, api) == [f"pop-{unique}:read", f"pop-{unique}:write"]
    cred = clients.get_by_client_id(db, api.client_id)
    # The API's own client: may introspect, can obtain no token of any kind.
    assert cred.resource_server and cred.grant_types == [] and cred.scopes == []
    assert clients.check_secret(cred, secret) and len(secret) >= 43
    assert apis.get(db, api.identifier) is api and apis.get(db, str(api.id)) is api
    ev = [e for e in events(db, "admin.api.created") if e.subject == str(api.id)]
    assert ev and ev[0].details["identifier"] == api.identifier
    assert ev[0].client_id == api.client_id and ev[0].agency_id == tree["dept"].id
    assert secret not in str(ev[0].details)


def test_without_introspection_there_are_no_credentials_until_turned_on(db, tree, unique):
    api, secret = new_api(db, tree, unique, introspection=False)
    assert secret is None and api.client_id is None
    with pytest.raises(Conflict):
        registration.rotate_secret(db, api)
    changed, secret = registration.update(db, api, registration.ApiChanges(introspection=True))
    assert changed == ["introspection"] and secret and api.client_id


@pytest.mark.parametrize(
    "identifier",
    [
        "api.example.go.th",  # relative
        "/v1",
        "https://api.example.go.th/#frag",  # RFC 8707 §2: no fragment
        "https:///nohost",
        "https://api.example.go.th/ space",
        ISSUER,  # GovID's own
        ISSUER + "/",
        "",
    ],
)
def test_identifier_must_be_absolute_without_fragment(db, tree, unique, identifier):
    with pytest.raises(InvalidInput) as err:
        new_api(db, tree, unique, identifier=identifier)
    assert err.value.field == "identifier"


def test_urn_identifiers_and_query_are_absolute_uris(db, tree, unique):
    api, _ = new_api(db, tree, unique, identifier=f"urn:govid:api:{unique}")
    assert api.identifier == f"urn:govid:api:{unique}"


def test_identifier_and_scopes_are_unique_and_never_govids(db, tree, unique):
    api, _ = new_api(db, tree, unique)
    with pytest.raises(Conflict):
        new_api(db, tree, unique, identifier=api.identifier, scopes=(f"x-{unique}",))
    with pytest.raises(Conflict) as err:
        new_api(db, tree, unique, name="other", scopes=(f"pop-{unique}:read",))
    assert f"pop-{unique}:read" in err.value.message
    for bad in ("openid", "profile", "admin:clients", "admin:anything", "scim", 'a"b', "a b"):
        with pytest.raises(InvalidInput):
            new_api(db, tree, unique, name=f"n{abs(hash(bad))}", scopes=(bad,))
    with pytest.raises(InvalidInput):
        new_api(db, tree, unique, name="empty", scopes=())


def test_client_registration_refuses_unknown_scopes_specifically(db, tree, unique):
    with pytest.raises(apis.InvalidScope) as err:
        app(db, tree, "dept", ("api:read",), unique)
    assert err.value.code == "invalid_scope" and err.value.field == "scopes"
    assert "api:read" in err.value.message and "idp apis create" in err.value.message


@pytest.mark.parametrize(
    ("shared_with", "allowed"),
    [
        ("agency", {"dept"}),
        ("subtree", {"dept", "office1"}),
        ("all", {"dept", "office1", "ministry", "dept2", "other"}),
    ],
)
def test_who_may_be_given_an_apis_scopes(db, tree, unique, shared_with, allowed):
    """Decision 0011: the API's owner decides, whoever registers the app."""
    api, _ = new_api(db, tree, unique, shared_with=shared_with)
    scope = f"pop-{unique}:read"
    for agency in ("dept", "office1", "ministry", "dept2", "other"):
        if agency in allowed:
            c = app(db, tree, agency, (scope,), unique)
            assert apis.target_for(db, c, api.identifier).scopes == {scope}
        else:
            with pytest.raises(apis.InvalidScope):
                app(db, tree, agency, (scope,), unique)


def test_unsharing_stops_tokens_for_apps_elsewhere_at_once(db, tree, unique):
    api, _ = new_api(db, tree, unique, shared_with="all")
    c = app(db, tree, "other", (f"pop-{unique}:read",), unique)
    assert apis.target_for(db, c, api.identifier)
    registration.update(db, api, registration.ApiChanges(shared_with="agency"))
    with pytest.raises(apis.InvalidTarget):
        apis.target_for(db, c, api.identifier)
    ev = [e for e in events(db, "admin.api.updated") if e.subject == str(api.id)]
    assert ev[-1].details["shared_with"] == {"before": "all", "after": "agency"}


def test_a_scope_held_by_apps_cannot_be_removed(db, tree, unique):
    api, _ = new_api(db, tree, unique)
    app(db, tree, "dept", (f"pop-{unique}:read",), unique)
    with pytest.raises(Conflict) as err:
        registration.update(db, api, registration.ApiChanges(scopes=(f"pop-{unique}:write",)))
    assert "1 app" in err.value.message
    changed, _ = registration.update(
        db, api, registration.ApiChanges(scopes=(f"pop-{unique}:read", f"pop-{unique}:admin"))
    )
    assert changed == ["scopes"]
    assert apis.scopes_of(db, api) == [f"pop-{unique}:admin", f"pop-{unique}:read"]


def test_disable_stops_tokens_and_credentials_keeps_scopes(db, tree, unique):
    api, _ = new_api(db, tree, unique)
    c = app(db, tree, "dept", (f"pop-{unique}:read",), unique)
    assert registration.set_status(db, api, "disabled") is True
    assert registration.set_status(db, api, "disabled") is False
    with pytest.raises(apis.InvalidTarget):
        apis.target_for(db, c, api.identifier)
    assert db.scalar(select(Client.status).where(Client.client_id == api.client_id)) == "disabled"
    with pytest.raises(Conflict):  # its scopes stay its own
        new_api(db, tree, unique, name="again", scopes=(f"pop-{unique}:read",))
    with pytest.raises(Conflict):
        registration.update(db, api, registration.ApiChanges(name_en="x"))
    registration.set_status(db, api, "active")
    assert apis.target_for(db, c, api.identifier)
    assert [e.details for e in events(db, "admin.api.enabled") if e.subject == str(api.id)]


def test_authorization_plan_and_token_targets(db, tree, unique):
    pop, _ = new_api(db, tree, unique)
    tax, _ = new_api(db, tree, unique, name="tax")
    c = app(db, tree, "dept", ("openid", f"pop-{unique}:read", f"tax-{unique}:read"), unique)
    scopes = ["openid", f"pop-{unique}:read"]
    assert apis.plan_authorization(db, c, [], ["openid"], issuer=ISSUER) == []
    assert apis.plan_authorization(db, c, [pop.identifier, ISSUER], scopes, issuer=ISSUER) == [
        pop.identifier
    ]
    with pytest.raises(apis.InvalidScope, match="resource="):  # API scope without its API
        apis.plan_authorization(db, c, [], scopes, issuer=ISSUER)
    with pytest.raises(apis.InvalidScope, match="at least one scope"):
        apis.plan_authorization(db, c, [pop.identifier, tax.identifier], scopes, issuer=ISSUER)
    for bad in ("https://unknown.example/", "not a uri", "https://x.example/#f"):
        with pytest.raises(apis.InvalidTarget):
            apis.plan_authorization(db, c, [bad], scopes, issuer=ISSUER)
    granted = [pop.identifier]
    # Without resource: GovID's token, GovID's scopes, no database needed.
    assert apis.token_target(None, c, None, " ".join(scopes), issuer=ISSUER, granted=granted) == (
        None,
        "openid",
    )
    aud, scope = apis.token_target(
        db, c, pop.identifier, " ".join(scopes), issuer=ISSUER, granted=granted
    )
    assert (aud, scope) == (pop.identifier, f"pop-{unique}:read")
    with pytest.raises(apis.InvalidTarget):  # RFC 8707 §2.2: not in the authorization
        apis.token_target(db, c, tax.identifier, "openid", issuer=ISSUER, granted=granted)


def test_get_unknown_api(db):
    with pytest.raises(NotFound):
        apis.get(db, "https://nope.example/")
