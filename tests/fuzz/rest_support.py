"""A live `collab serve` with four people (owner, editor, viewer, outsider) around one session
and one workspace, and a digest of the stored rows, for the fuzz suites."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import requests

# Rows a refused request may legitimately leave behind: the audit trail of the refusal,
# logins and their devices (a wrong password is audited), mail tokens, OAuth states, and
# what background workers write on their own.
NOT_COMPARED = {
    "audit_logs",
    "logins",
    "known_devices",
    "refresh_tokens",
    "user_sessions",
    "oauth_states",
    "webhook_deliveries",
    "webhook_attempts",
    "document_updates",
}
# Columns that time reads and background work move: left out of the digest.
VOLATILE = ("last_active", "updated_at", "last_used_at", "last_login", "last_used_ip")
PASSWORD = "Correct-Horse-7-Battery"


@dataclass
class Person:
    name: str
    token: str
    user_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    base: str
    http: requests.Session
    people: dict[str, Person] = field(default_factory=dict)
    session_id: str = ""
    ws_id: str = ""

    def call(self, method: str, path: str, who: str | None = None, body: Any = None) -> Any:
        headers = self.people[who].headers if who else {}
        response = self.http.request(method, self.base + path, json=body, headers=headers)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content else None


def populate(base: str) -> World:
    """Four people: the owner's session and workspace, an editor and a viewer in both."""
    world = World(base, requests.Session())
    tag = secrets.token_hex(3)
    for name in ("owner", "editor", "viewer", "outsider"):
        pair = world.call(
            "POST",
            "/api/auth/register",
            body={
                "email": f"{name}{tag}@example.org",
                "username": f"{name}{tag}",
                "password": PASSWORD,
            },
        )
        world.people[name] = Person(name, pair["access_token"], pair["user"]["user_id"])
    world.session_id = world.call(
        "POST", "/api/sessions", "owner", {"name": "Fuzzed", "language": "python"}
    )["session_id"]
    world.ws_id = world.call("POST", "/api/workspaces", "owner", {"name": "Fuzzed"})["ws_id"]
    for role in ("editor", "viewer"):
        link = world.call(
            "POST", f"/api/sessions/{world.session_id}/invitations", "owner", {"role": role}
        )
        world.call("POST", f"/api/join/{link['token']}", role)
        invitation = world.call(
            "POST",
            f"/api/workspaces/{world.ws_id}/invitations",
            "owner",
            {"user_id": world.people[role].user_id, "role": role},
        )
        world.call("POST", f"/api/invitations/workspace/{invitation['token']}/accept", role)
    return world


class RowDigest:
    """One md5 over every compared table's rows (volatile columns left out)."""

    def __init__(self, database_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.conn: asyncpg.Connection = self.loop.run_until_complete(asyncpg.connect(database_url))
        tables = self.loop.run_until_complete(
            self.conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'schema_migrations' ORDER BY tablename"
            )
        )
        strip = "".join(f" - '{column}'" for column in VOLATILE)
        parts = [
            f"SELECT '{t}' AS t, md5(coalesce(string_agg((to_jsonb(x){strip})::text, ',' "
            f"ORDER BY (to_jsonb(x){strip})::text), '')) AS h FROM {t} x"
            for t in (row["tablename"] for row in tables)
            if t not in NOT_COMPARED
        ]
        self.query = " UNION ALL ".join(parts)

    def take(self) -> dict[str, str]:
        rows = self.loop.run_until_complete(self.conn.fetch(self.query))
        return {row["t"]: row["h"] for row in rows}

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()
