"""Every REST operation's description, keyed by (method, path) as aiohttp's router names it.

The router is the truth for which routes exist; this table says what each one takes and
answers, with the request models the handlers themselves parse. The drift test
(tests/http/test_openapi.py) fails when a route has no entry here (nor a `@documented`
handler) or an entry names no route. Webhooks, versions and the rest add their own.
"""

from __future__ import annotations

from auth.account_inputs import (
    CodeInput,
    EmailChangeInput,
    ForgotInput,
    LoginInput,
    MfaDisableInput,
    MfaVerifyInput,
    PasswordChangeInput,
    ProfileInput,
    RefreshInput,
    RegisterInput,
    ResetInput,
    TokenInput,
)
from auth.api_keys import KeyInput
from auth.workspace_inputs import InvitationInput, RoleInput, WorkspaceInput, WorkspacePatch
from collab.http.admin_routes import AdminActionInput
from collab.http.apidoc.model import Operation, Query
from collab.http.apidoc.schemas import ANY_OBJECT, TEXT, array, ref
from collab.http.deployment_routes import DeployInput
from collab.http.lifecycle_routes import DeleteAccountInput
from collab.sessions.validation import (
    ParticipantPatch,
    RenameInput,
    SessionInput,
    SessionInvitationInput,
    SessionPatch,
)
from collab.webhooks.service import WebhookInput, WebhookPatch

A, W, S, D, X, OPS = "Accounts", "Workspaces", "Sessions", "Deployments", "Admin", "Operations"

LIMIT = Query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size (50)")
BEFORE = Query("before", {"type": "integer", "minimum": 1}, "entries older than this log_id")
PAGING = (LIMIT, BEFORE)
WEB_CLIENT = "`X-Collab-Client: web` moves the refresh token into an HttpOnly cookie."

OPERATIONS: dict[tuple[str, str], Operation] = {
    # -- operations ---------------------------------------------------------------------------
    ("GET", "/healthz"): Operation("Liveness", OPS, "none", answer="Health"),
    ("GET", "/readyz"): Operation(
        "Readiness: PostgreSQL and Redis answer", OPS, "none", answer="Health"
    ),
    ("GET", "/metrics"): Operation(
        "Prometheus metrics of this process",
        OPS,
        answer=TEXT,
        media="text/plain",
        security=("metricsToken",),
    ),
    # -- accounts -----------------------------------------------------------------------------
    ("POST", "/api/auth/register"): Operation(
        "Create an account",
        A,
        "none",
        RegisterInput,
        status=201,
        answer="TokenPair",
        errors=(409,),
        description=WEB_CLIENT,
    ),
    ("POST", "/api/auth/login"): Operation(
        "Log in with email or username",
        A,
        "none",
        LoginInput,
        answer="LoginAnswer",
        description="With TOTP on, answers `{mfa_required, mfa_token}`. " + WEB_CLIENT,
    ),
    ("POST", "/api/auth/refresh"): Operation(
        "Spend a refresh token for a new pair",
        A,
        "none",
        RefreshInput,
        body_required=False,
        answer="TokenPair",
        description="A spent token revokes its family. " + WEB_CLIENT,
    ),
    ("POST", "/api/auth/logout"): Operation(
        "End this login", A, "none", RefreshInput, body_required=False, status=204
    ),
    ("GET", "/api/auth/providers"): Operation(
        "The OAuth providers configured here",
        A,
        "none",
        answer={
            "type": "object",
            "properties": {"providers": array(TEXT)},
            "required": ["providers"],
        },
    ),
    ("POST", "/api/auth/logout-all"): Operation("End every login", A, status=204),
    ("GET", "/api/auth/me"): Operation("The caller", A, answer="User"),
    ("PATCH", "/api/auth/me"): Operation("Change the profile", A, body=ProfileInput, answer="User"),
    ("DELETE", "/api/auth/me"): Operation(
        "Delete the account after a 7-day grace",
        A,
        body=DeleteAccountInput,
        status=202,
        answer=ANY_OBJECT,
        errors=(409,),
    ),
    ("GET", "/api/auth/me/export"): Operation("The caller's data", A, answer=ANY_OBJECT),
    ("GET", "/api/auth/me/audit-logs"): Operation(
        "The caller's security events, newest first", A, answer="AuditPage", query=PAGING
    ),
    ("POST", "/api/auth/verify-email"): Operation(
        "Confirm an email address",
        A,
        "none",
        TokenInput,
        answer={"type": "object", "properties": {"user": ref("User")}, "required": ["user"]},
        errors=(410,),
    ),
    ("POST", "/api/auth/verify-email/resend"): Operation(
        "Mail the verification link again", A, status=202, answer=ANY_OBJECT
    ),
    ("POST", "/api/auth/password/forgot"): Operation(
        "Mail a reset link (always 202)", A, "none", ForgotInput, status=202, answer="Message"
    ),
    ("POST", "/api/auth/password/reset"): Operation(
        "Set a new password with a mailed token",
        A,
        "none",
        ResetInput,
        status=204,
        errors=(410,),
    ),
    ("POST", "/api/auth/password/change"): Operation(
        "Change the password; other logins end", A, body=PasswordChangeInput, status=204
    ),
    ("POST", "/api/auth/email/change"): Operation(
        "Change the email address (confirmed by mail)",
        A,
        body=EmailChangeInput,
        status=202,
        answer=ANY_OBJECT,
        errors=(409,),
    ),
    ("POST", "/api/auth/email/confirm"): Operation(
        "Confirm an email change", A, "none", TokenInput, answer=ANY_OBJECT, errors=(409, 410)
    ),
    ("GET", "/api/auth/oauth/{provider}/authorize"): Operation(
        "Redirect to the provider (state + PKCE)", A, "none", status=302
    ),
    ("GET", "/api/auth/oauth/{provider}/callback"): Operation(
        "The provider's redirect back",
        A,
        "none",
        answer="LoginAnswer",
        query=(Query("code", TEXT), Query("state", TEXT), Query("error", TEXT)),
        also={302: "to the front-end, tokens in the fragment"},
    ),
    ("GET", "/api/auth/mfa"): Operation("Two-factor state", A, answer=ANY_OBJECT),
    ("POST", "/api/auth/mfa/totp"): Operation(
        "Start TOTP enrolment", A, answer=ANY_OBJECT, errors=(409,)
    ),
    ("POST", "/api/auth/mfa/totp/confirm"): Operation(
        "Turn TOTP on", A, body=CodeInput, answer=ANY_OBJECT, errors=(409,)
    ),
    ("DELETE", "/api/auth/mfa/totp"): Operation(
        "Turn TOTP off", A, body=MfaDisableInput, status=204, errors=(409,)
    ),
    ("POST", "/api/auth/mfa/recovery-codes"): Operation(
        "New recovery codes", A, body=CodeInput, answer=ANY_OBJECT, errors=(409,)
    ),
    ("POST", "/api/auth/mfa/verify"): Operation(
        "Complete a login with TOTP", A, "none", MfaVerifyInput, answer="TokenPair"
    ),
    ("POST", "/api/auth/api-keys"): Operation(
        "Create an API key (shown once)", A, body=KeyInput, status=201, answer="ApiKeyCreated"
    ),
    ("GET", "/api/auth/api-keys"): Operation(
        "The caller's API keys", A, answer=array(ref("ApiKey"))
    ),
    ("DELETE", "/api/auth/api-keys/{key_id}"): Operation("Revoke an API key", A, status=204),
    ("GET", "/api/auth/sessions"): Operation("The caller's logins", A, answer=array(ref("Login"))),
    ("DELETE", "/api/auth/sessions/{login_id}"): Operation("End one login", A, status=204),
    # -- admin --------------------------------------------------------------------------------
    ("GET", "/api/admin/users"): Operation(
        "Users (platform admins)",
        X,
        answer=ANY_OBJECT,
        query=(LIMIT, Query("q", TEXT, "search"), Query("before", {"type": "string"})),
    ),
    ("GET", "/api/admin/users/{user_id}"): Operation("One user", X, answer=ANY_OBJECT),
    ("POST", "/api/admin/users/{user_id}/deactivate"): Operation(
        "Deactivate a user", X, body=AdminActionInput, body_required=False, answer=ANY_OBJECT
    ),
    ("POST", "/api/admin/users/{user_id}/reactivate"): Operation(
        "Reactivate a user", X, body=AdminActionInput, body_required=False, answer=ANY_OBJECT
    ),
    ("POST", "/api/admin/users/{user_id}/logout"): Operation(
        "End every login of a user", X, body=AdminActionInput, body_required=False, status=204
    ),
    ("GET", "/api/admin/audit-logs"): Operation(
        "Any audit log",
        X,
        answer="AuditPage",
        query=(
            *PAGING,
            Query("actor", {"type": "string", "format": "uuid"}),
            Query("ws_id", {"type": "string", "format": "uuid"}),
            Query("target", TEXT, "type:id"),
            Query("action", TEXT),
        ),
    ),
    # -- workspaces ---------------------------------------------------------------------------
    ("POST", "/api/workspaces"): Operation(
        "Create a workspace (the caller owns it)",
        W,
        body=WorkspaceInput,
        status=201,
        answer="Workspace",
    ),
    ("GET", "/api/workspaces"): Operation(
        "Workspaces the caller can see",
        W,
        answer=array(ref("Workspace")),
        query=(
            Query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
            Query("template", {"type": "boolean"}, "templates only"),
        ),
    ),
    ("GET", "/api/workspaces/{ws_id}"): Operation("A workspace", W, answer="Workspace"),
    ("PATCH", "/api/workspaces/{ws_id}"): Operation(
        "Change a workspace (owner, admin)", W, body=WorkspacePatch, answer="Workspace"
    ),
    ("DELETE", "/api/workspaces/{ws_id}"): Operation("Delete a workspace (owner)", W, status=204),
    ("GET", "/api/workspaces/{ws_id}/members"): Operation(
        "Members and roles", W, answer=array(ref("Member"))
    ),
    ("PUT", "/api/workspaces/{ws_id}/members/{user_id}"): Operation(
        "Set a member's role", W, body=RoleInput, answer="Membership"
    ),
    ("DELETE", "/api/workspaces/{ws_id}/members/{user_id}"): Operation(
        "Remove a member", W, status=204
    ),
    ("POST", "/api/workspaces/{ws_id}/invitations"): Operation(
        "Invite someone",
        W,
        body=InvitationInput,
        status=201,
        answer="WorkspaceInvitationCreated",
        errors=(409,),
    ),
    ("GET", "/api/workspaces/{ws_id}/invitations"): Operation(
        "Pending invitations", W, answer=array(ANY_OBJECT)
    ),
    ("DELETE", "/api/workspaces/{ws_id}/invitations/{invitation_id}"): Operation(
        "Revoke an invitation", W, status=204
    ),
    ("GET", "/api/workspaces/{ws_id}/sessions"): Operation(
        "The workspace's sessions", W, answer=array(ref("Session"))
    ),
    ("GET", "/api/workspaces/{ws_id}/audit-logs"): Operation(
        "The workspace's audit log (admin+)", W, answer="AuditPage", query=PAGING
    ),
    ("GET", "/api/workspaces/{ws_id}/document"): Operation(
        "The workspace document", W, answer=ANY_OBJECT
    ),
    ("PATCH", "/api/workspaces/{ws_id}/document"): Operation(
        "Replace the parts of the workspace document it names",
        W,
        body=ANY_OBJECT,
        answer=ANY_OBJECT,
    ),
    ("POST", "/api/workspaces/{ws_id}/webhooks"): Operation(
        "Register a webhook endpoint (the signing secret is answered once)",
        W,
        body=WebhookInput,
        status=201,
        answer=ANY_OBJECT,
    ),
    ("GET", "/api/workspaces/{ws_id}/webhooks"): Operation(
        "The workspace's webhook endpoints", W, answer=array(ANY_OBJECT)
    ),
    ("GET", "/api/workspaces/{ws_id}/webhooks/{webhook_id}"): Operation(
        "A webhook endpoint", W, answer=ANY_OBJECT
    ),
    ("PATCH", "/api/workspaces/{ws_id}/webhooks/{webhook_id}"): Operation(
        "Change a webhook endpoint", W, body=WebhookPatch, answer=ANY_OBJECT
    ),
    ("DELETE", "/api/workspaces/{ws_id}/webhooks/{webhook_id}"): Operation(
        "Delete a webhook endpoint", W, status=204
    ),
    ("POST", "/api/workspaces/{ws_id}/webhooks/{webhook_id}/test"): Operation(
        "Queue a test delivery", W, status=202, answer=ANY_OBJECT
    ),
    ("GET", "/api/workspaces/{ws_id}/webhooks/{webhook_id}/deliveries"): Operation(
        "Delivery attempts, newest first",
        W,
        answer=ANY_OBJECT,
        query=(LIMIT, Query("before", {"type": "integer", "minimum": 1})),
    ),
    ("GET", "/api/invitations/workspace/{token}"): Operation(
        "What an invitation link shows (no login)", W, "none", answer=ANY_OBJECT, errors=(410,)
    ),
    ("POST", "/api/invitations/workspace/{token}/accept"): Operation(
        "Accept an invitation", W, answer="Membership", errors=(409, 410)
    ),
    ("POST", "/api/invitations/workspace/{token}/decline"): Operation(
        "Decline an invitation", W, answer=ANY_OBJECT, errors=(409, 410)
    ),
    # -- sessions -----------------------------------------------------------------------------
    ("POST", "/api/sessions"): Operation(
        "Start a session (the caller owns it)", S, body=SessionInput, status=201, answer="Session"
    ),
    ("GET", "/api/sessions"): Operation(
        "Sessions the caller owns or joined", S, answer=array(ref("Session"))
    ),
    ("GET", "/api/sessions/{session_id}"): Operation("A session", S, answer="Session"),
    ("PATCH", "/api/sessions/{session_id}"): Operation(
        "Change a session (owner)", S, body=SessionPatch, answer="Session"
    ),
    ("DELETE", "/api/sessions/{session_id}"): Operation("Delete a session (owner)", S, status=204),
    ("GET", "/api/sessions/{session_id}/participants"): Operation(
        "Participants", S, answer=array(ref("Participant"))
    ),
    ("PATCH", "/api/sessions/{session_id}/participants/{participant_id}"): Operation(
        "Change a participant's role (owner)", S, body=ParticipantPatch, answer="Participant"
    ),
    ("DELETE", "/api/sessions/{session_id}/participants/{participant_id}"): Operation(
        "Remove a participant (owner); their sockets close", S, status=204
    ),
    ("POST", "/api/sessions/{session_id}/invitations"): Operation(
        "Make a join link",
        S,
        body=SessionInvitationInput,
        status=201,
        answer="SessionInvitationCreated",
    ),
    ("GET", "/api/sessions/{session_id}/invitations"): Operation(
        "Join links", S, answer=array(ANY_OBJECT)
    ),
    ("DELETE", "/api/sessions/{session_id}/invitations/{invitation_id}"): Operation(
        "Revoke a join link", S, status=204
    ),
    ("GET", "/api/join/{token}"): Operation(
        "What a join link shows (no login)", S, "none", answer=ANY_OBJECT, errors=(410,)
    ),
    ("POST", "/api/join/{token}"): Operation(
        "Join with a link", S, answer="Joined", errors=(409, 410)
    ),
    ("POST", "/api/join/{token}/decline"): Operation(
        "Decline a join link", S, status=204, errors=(409, 410)
    ),
    ("GET", "/api/sessions/{session_id}/files"): Operation(
        "The session's files", S, answer=array(ref("File"))
    ),
    ("GET", "/api/sessions/{session_id}/files/{path}"): Operation(
        "A file's current text", S, answer=TEXT, media="text/plain"
    ),
    ("PATCH", "/api/sessions/{session_id}/files/{path}"): Operation(
        "Rename a file (editors)", S, body=RenameInput, answer="FileRenamed", errors=(409,)
    ),
    ("DELETE", "/api/sessions/{session_id}/files/{path}"): Operation(
        "Delete a file (editors)", S, status=204
    ),
    ("GET", "/api/sessions/{session_id}/audit-logs"): Operation(
        "The session's audit log (owner)", S, answer="AuditPage", query=PAGING
    ),
    # -- deployments --------------------------------------------------------------------------
    ("POST", "/api/sessions/{session_id}/deployments"): Operation(
        "Deploy the session's code (editors)",
        D,
        body=DeployInput,
        body_required=False,
        status=202,
        answer="Deployment",
        errors=(409,),
    ),
    ("GET", "/api/sessions/{session_id}/deployments"): Operation(
        "Running and starting deployments", D, answer=array(ref("Deployment"))
    ),
    ("GET", "/api/sessions/{session_id}/past-deployments"): Operation(
        "Past deployments", D, answer=array(ANY_OBJECT)
    ),
    ("GET", "/api/deployments/{deployment_id}"): Operation("A deployment", D, answer="Deployment"),
    ("POST", "/api/deployments/{deployment_id}/stop"): Operation(
        "Stop a deployment (editors)", D, status=202, answer="Deployment"
    ),
    ("GET", "/api/deployments/{deployment_id}/logs"): Operation(
        "The deployment's log",
        D,
        answer=TEXT,
        media="text/plain",
        query=(Query("tail", {"type": "integer", "minimum": 1, "maximum": 10000}),),
    ),
    ("GET", "/api/deployments/{deployment_id}/stats"): Operation(
        "The container's usage now", D, answer=ANY_OBJECT, errors=(409,)
    ),
    # -- this document ------------------------------------------------------------------------
    ("GET", "/api/openapi.json"): Operation("This document", OPS, "none", answer=ANY_OBJECT),
    ("GET", "/api/asyncapi.json"): Operation(
        "The Socket.IO events, as AsyncAPI 3.0", OPS, "none", answer=ANY_OBJECT
    ),
    ("GET", "/api/docs"): Operation(
        "This document as a page (Redoc)", OPS, "none", answer=TEXT, media="text/html"
    ),
    ("GET", "/api/docs/{name}"): Operation(
        "The documentation page's script",
        OPS,
        "none",
        answer=TEXT,
        media="text/javascript",
    ),
}
