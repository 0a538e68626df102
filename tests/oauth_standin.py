"""A local stand-in for GitHub and an OpenID Connect issuer (the real ones are unreachable
here). It speaks their endpoints over real HTTP, checks client secrets and PKCE like they
do, and lets a test choose who "logs in" at the authorize step.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-client-secret"


@dataclass
class Account:
    id: str
    login: str
    email: str
    verified: bool = True
    name: str = "Octo Cat"


@dataclass
class StandIn:
    accounts: dict[str, Account] = field(default_factory=dict)
    codes: dict[str, tuple[Account, str, str]] = field(default_factory=dict)
    tokens: dict[str, Account] = field(default_factory=dict)
    base_url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes(
            [
                web.get("/login/oauth/authorize", self.authorize),
                web.post("/login/oauth/access_token", self.token),
                web.get("/api/user", self.github_user),
                web.get("/api/user/emails", self.github_emails),
                web.get("/oidc/.well-known/openid-configuration", self.discovery),
                web.get("/oidc/authorize", self.authorize),
                web.post("/oidc/token", self.token),
                web.get("/oidc/userinfo", self.userinfo),
            ]
        )
        return app

    async def authorize(self, request: web.Request) -> web.Response:
        """The person "logs in" as `?as=<login>`; we redirect back with a code."""
        query = request.query
        assert query["client_id"] == CLIENT_ID
        assert query["code_challenge_method"] == "S256"
        account = self.accounts[query["as"]]
        code = secrets.token_urlsafe(16)
        self.codes[code] = (account, query["code_challenge"], query["redirect_uri"])
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        raise web.HTTPFound(target)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_secret") != CLIENT_SECRET:
            return web.json_response({"error": "invalid_client"}, status=401)
        entry = self.codes.pop(str(form.get("code")), None)
        if entry is None:
            return web.json_response({"error": "invalid_grant"}, status=400)
        account, challenge, redirect_uri = entry
        verifier = str(form.get("code_verifier", ""))
        computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if computed.rstrip(b"=").decode() != challenge or form.get("redirect_uri") != redirect_uri:
            return web.json_response({"error": "invalid_grant", "why": "pkce"}, status=400)
        token = secrets.token_urlsafe(16)
        self.tokens[token] = account
        return web.json_response({"access_token": token, "token_type": "bearer"})

    def _account(self, request: web.Request) -> Account:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        account = self.tokens.get(token)
        if account is None:
            raise web.HTTPUnauthorized()
        return account

    async def github_user(self, request: web.Request) -> web.Response:
        a = self._account(request)
        return web.json_response(
            {
                "id": int(a.id),
                "login": a.login,
                "name": a.name,
                "avatar_url": "https://avatars.example/u.png",
            }
        )

    async def github_emails(self, request: web.Request) -> web.Response:
        a = self._account(request)
        return web.json_response([{"email": a.email, "primary": True, "verified": a.verified}])

    async def discovery(self, request: web.Request) -> web.Response:
        base = f"{self.base_url}/oidc"
        return web.json_response(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "userinfo_endpoint": f"{base}/userinfo",
            }
        )

    async def userinfo(self, request: web.Request) -> web.Response:
        a = self._account(request)
        info: dict[str, Any] = {
            "sub": a.id,
            "email": a.email,
            "email_verified": a.verified,
            "given_name": "Goo",
            "family_name": "Gle",
        }
        return web.json_response(info)
