"""The shapes the API answers with, as JSON Schema components (OpenAPI 3.1 is JSON Schema
2020-12). Objects name the fields clients rely on and allow more: adding a field is not a
breaking change, removing one is (the schemathesis suite checks every answer against these).
"""

from __future__ import annotations

from typing import Any

S = dict[str, Any]

UUID: S = {"type": "string", "format": "uuid"}
TIME: S = {"type": "string", "format": "date-time"}
TEXT: S = {"type": "string"}


def nullable(schema: S) -> S:
    return {"anyOf": [schema, {"type": "null"}]}


def ref(name: str) -> S:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict[str, S], optional: dict[str, S] | None = None) -> S:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
    }


def array(item: S) -> S:
    return {"type": "array", "items": item}


ANY_OBJECT: S = {"type": "object"}

COMPONENTS: dict[str, S] = {
    "Error": obj(
        {
            "error": obj(
                {"code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}, "message": TEXT},
                {"details": ANY_OBJECT},
            )
        }
    ),
    "User": obj(
        {
            "user_id": UUID,
            "email": TEXT,
            "username": TEXT,
            "first_name": nullable(TEXT),
            "last_name": nullable(TEXT),
            "email_verified": {"type": "boolean"},
        },
        {"profile_image_url": nullable(TEXT), "created_at": TIME, "last_login": nullable(TIME)},
    ),
    "UserSummary": obj({"user_id": UUID, "username": TEXT}, {"email": TEXT}),
    "TokenPair": obj(
        {
            "user": ref("User"),
            "access_token": TEXT,
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer"},
        },
        # A browser (`X-Collab-Client: web`) gets the refresh token as a cookie instead.
        {"refresh_token": TEXT},
    ),
    "LoginAnswer": {
        "anyOf": [ref("TokenPair"), obj({"mfa_required": {"const": True}, "mfa_token": TEXT})]
    },
    "Workspace": obj(
        {
            "ws_id": UUID,
            "name": TEXT,
            "description": nullable(TEXT),
            "owner_id": UUID,
            "is_public": {"type": "boolean"},
            "is_template": {"type": "boolean"},
            "status": TEXT,
            "created_at": TIME,
        },
        {"role": nullable(TEXT)},
    ),
    "Member": obj({"user": ref("UserSummary"), "role": TEXT, "status": TEXT}),
    "Membership": obj({"ws_id": UUID, "user_id": UUID, "role": TEXT, "status": TEXT}),
    "WorkspaceInvitationCreated": obj(
        {"invitation_id": UUID, "token": TEXT, "accept_url": TEXT, "expires_at": TIME}
    ),
    "Session": obj(
        {
            "session_id": UUID,
            "owner_id": UUID,
            "name": TEXT,
            "language": TEXT,
            "status": TEXT,
            "created_at": TIME,
        },
        {"ws_id": nullable(UUID), "role": nullable(TEXT), "description": nullable(TEXT)},
    ),
    "Participant": obj(
        {"participant_id": UUID, "user": ref("UserSummary"), "role": TEXT},
        {"joined_at": TIME, "is_active": {"type": "boolean"}},
    ),
    "SessionInvitationCreated": obj(
        {"invitation_id": UUID, "token": TEXT, "join_url": TEXT, "expires_at": TIME}
    ),
    "Joined": obj({"session": ref("Session")}, {"participant": ref("Participant")}),
    "File": obj({"path": TEXT, "size": {"type": "integer"}}, {"updated_at": nullable(TIME)}),
    "FileRenamed": ANY_OBJECT,
    "AuditPage": obj({"items": array(obj({"action": TEXT, "timestamp": TIME}))}),
    "ApiKey": obj(
        {"key_id": UUID, "name": TEXT, "prefix": TEXT, "scopes": array(TEXT)},
        {"expires_at": nullable(TIME), "last_used_at": nullable(TIME)},
    ),
    "ApiKeyCreated": obj(
        {"key_id": UUID, "key": TEXT, "prefix": TEXT, "scopes": array(TEXT)},
        {"expires_at": nullable(TIME)},
    ),
    "Login": obj({"id": UUID, "created_at": TIME, "current": {"type": "boolean"}}),
    "Deployment": obj({"deployment_id": UUID, "status": TEXT}, {"deployment_url": TEXT}),
    "Health": obj({"status": TEXT}, {"checks": ANY_OBJECT}),
    "Message": obj({"message": TEXT}),
}
