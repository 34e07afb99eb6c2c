"""SCIM discovery documents (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas."""

from __future__ import annotations

from typing import Any

from idp.admin.scim.users import ENTERPRISE, GOVID, GROUP, USER

SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RT = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": [SPC],
        "documentationUri": f"{base.rsplit('/scim/', 1)[0]}/admin/v1/openapi.json",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 500},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A GovID client_credentials access token with scope `scim`",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}/ServiceProviderConfig",
        },
    }


def resource_types(base: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RT],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "schema": USER,
            "schemaExtensions": [
                {"schema": ENTERPRISE, "required": True},
                {"schema": GOVID, "required": False},
            ],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"},
        },
        {
            "schemas": [RT],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "schema": GROUP,
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/Group"},
        },
    ]


def _attr(name: str, type_: str = "string", **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "multiValued": kw.pop("multi", False),
        "required": kw.pop("required", False),
        "caseExact": kw.pop("case_exact", False),
        "mutability": kw.pop("mutability", "readWrite"),
        "returned": "default",
        "uniqueness": kw.pop("uniqueness", "none"),
        **kw,
    }


def schemas(base: str) -> list[dict[str, Any]]:
    docs = [
        (USER, "User", [
            _attr("userName", required=True, uniqueness="server", mutability="immutable"),
            _attr("externalId", case_exact=True),
            _attr("name", "complex", subAttributes=[_attr("givenName"), _attr("familyName"),
                                                    _attr("formatted", mutability="readOnly")]),
            _attr("displayName", mutability="readOnly"),
            _attr("emails", "complex", multi=True, mutability="readOnly",
                  subAttributes=[_attr("value"), _attr("type"), _attr("primary", "boolean")]),
            _attr("active", "boolean"),
            _attr("preferredLanguage"),
            _attr("password", mutability="writeOnly"),
        ]),
        (ENTERPRISE, "EnterpriseUser", [
            _attr("department", mutability="immutable", description="GovID agency code"),
            _attr("organization", mutability="readOnly"),
        ]),
        (GOVID, "GovIDUser", [
            _attr("givenNameTh"), _attr("familyNameTh"),
            _attr("mailboxQuotaMb", "integer", mutability="readOnly"),
            _attr("protected", mutability="readOnly"),
        ]),
        (GROUP, "Group", [
            _attr("displayName", mutability="readOnly"),
            _attr("members", "complex", multi=True, mutability="readOnly",
                  subAttributes=[_attr("value"), _attr("display"), _attr("type")]),
        ]),
    ]  # fmt: skip
    return [
        {
            "schemas": [SCHEMA],
            "id": sid,
            "name": name,
            "attributes": attrs,
            "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{sid}"},
        }
        for sid, name, attrs in docs
    ]
