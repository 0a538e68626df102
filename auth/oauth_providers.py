"""GitHub (OAuth 2) and Google (OpenID Connect): building the authorize URL and turning a
code into a verified identity. Both use PKCE (S256). The HTTP calls go to the endpoints the
settings name, so a self-hosted GitHub Enterprise or another OIDC issuer also works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp

from kernel.errors import Unauthenticated, Unavailable


class ProviderError(Unauthenticated):
    code = "unauthorized"


@asynccontextmanager
async def _call(what: str) -> AsyncIterator[None]:
    """A provider that does not answer is a dependency that is down (503), not our bug."""
    try:
        yield
    except (aiohttp.ClientError, OSError) as exc:
        raise Unavailable(
            f"The login provider does not answer the {what} request; try again shortly."
        ) from exc


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProviderError(f"The provider's {what} answer is not a JSON object.")
    return value


def _text(value: Any) -> str | None:
    """A string claim, or None for anything else (a provider's optional fields)."""
    return value if isinstance(value, str) and value else None


def _email(value: Any) -> str | None:
    """An address that fits where addresses are stored (255 characters), else None."""
    email = _text(value)
    return email if email is not None and len(email) <= 255 and "\x00" not in email else None


def _identifier(value: Any, what: str) -> str:
    """The provider's id of the person: a non-empty string or an integer, never a null that
    `str()` would turn into the same "None" for everyone."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise ProviderError(f"The provider's {what} answer has no usable id.")
    return str(value)[:255]


@dataclass(frozen=True)
class Identity:
    provider: str
    provider_id: str
    email: str | None
    email_verified: bool
    username_hint: str
    first_name: str | None = None
    last_name: str | None = None
    picture: str | None = None


class Provider(Protocol):
    @property
    def name(self) -> str: ...

    async def authorize_url(
        self, http: aiohttp.ClientSession, state: str, challenge: str, redirect_uri: str
    ) -> str: ...

    async def identity(
        self, http: aiohttp.ClientSession, code: str, verifier: str, redirect_uri: str
    ) -> Identity: ...


async def _json(response: aiohttp.ClientResponse, what: str) -> Any:
    if response.status != 200:
        raise ProviderError(f"The provider refused the {what} request ({response.status}).")
    try:
        return await response.json(content_type=None)
    except (ValueError, UnicodeDecodeError):
        raise ProviderError(f"The provider's {what} answer is not JSON.") from None


@dataclass(frozen=True)
class GitHub:
    client_id: str
    client_secret: str
    base_url: str = "https://github.com"
    api_url: str = "https://api.github.com"
    name: str = "github"

    async def authorize_url(
        self, http: aiohttp.ClientSession, state: str, challenge: str, redirect_uri: str
    ) -> str:
        query = urlencode(
            {
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": "read:user user:email",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "allow_signup": "true",
            }
        )
        return f"{self.base_url}/login/oauth/authorize?{query}"

    async def identity(
        self, http: aiohttp.ClientSession, code: str, verifier: str, redirect_uri: str
    ) -> Identity:
        async with (
            _call("token"),
            http.post(
                f"{self.base_url}/login/oauth/access_token",
                data={
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": verifier,
                },
                headers={"Accept": "application/json"},
            ) as response,
        ):
            token = _text(_object(await _json(response, "token"), "token").get("access_token"))
        if not token:
            raise ProviderError("GitHub did not issue an access token.")
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
        async with _call("user"), http.get(f"{self.api_url}/user", headers=headers) as response:
            user = _object(await _json(response, "user"), "user")
        async with (
            _call("emails"),
            http.get(f"{self.api_url}/user/emails", headers=headers) as response,
        ):
            emails = await _json(response, "emails")
        primary = (
            next((e for e in emails if isinstance(e, dict) and e.get("primary") is True), None)
            if isinstance(emails, list)
            else None
        )
        name = (_text(user.get("name")) or "").split(" ", 1)
        return Identity(
            provider=self.name,
            provider_id=_identifier(user.get("id"), "user"),
            email=_email(primary.get("email")) if primary else None,
            email_verified=bool(primary and primary.get("verified") is True),
            username_hint=_text(user.get("login")) or "github_user",
            first_name=name[0] or None,
            last_name=name[1] if len(name) > 1 else None,
            picture=_text(user.get("avatar_url")),
        )


@dataclass
class Google:
    """Any OpenID Connect issuer; endpoints come from its discovery document."""

    client_id: str
    client_secret: str
    issuer: str = "https://accounts.google.com"
    name: str = "google"
    _discovery: dict[str, Any] | None = None

    async def _endpoints(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        if self._discovery is None:
            url = f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"
            async with _call("discovery"), http.get(url) as response:
                found = _object(await _json(response, "discovery"), "discovery")
            names = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint")
            if not all(_text(found.get(n)) for n in names):
                raise ProviderError("The provider's discovery answer lacks its endpoints.")
            self._discovery = found  # kept only once it is usable
        return self._discovery

    async def authorize_url(
        self, http: aiohttp.ClientSession, state: str, challenge: str, redirect_uri: str
    ) -> str:
        endpoints = await self._endpoints(http)
        query = urlencode(
            {
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "response_type": "code",
                "scope": "openid email profile",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoints['authorization_endpoint']}?{query}"

    async def identity(
        self, http: aiohttp.ClientSession, code: str, verifier: str, redirect_uri: str
    ) -> Identity:
        endpoints = await self._endpoints(http)
        async with (
            _call("token"),
            http.post(
                endpoints["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "code_verifier": verifier,
                },
            ) as response,
        ):
            token = _text(_object(await _json(response, "token"), "token").get("access_token"))
        if not token:
            raise ProviderError("The provider did not issue an access token.")
        # The userinfo answer comes straight from the issuer over TLS with our token, so
        # its claims are the issuer's own (OIDC Core 5.3).
        async with (
            _call("userinfo"),
            http.get(
                endpoints["userinfo_endpoint"], headers={"Authorization": f"Bearer {token}"}
            ) as response,
        ):
            info = _object(await _json(response, "userinfo"), "userinfo")
        email = _email(info.get("email"))
        return Identity(
            provider=self.name,
            provider_id=_identifier(info.get("sub"), "userinfo"),
            email=email,
            email_verified=info.get("email_verified") is True,
            username_hint=(email or "user").split("@")[0],
            first_name=_text(info.get("given_name")),
            last_name=_text(info.get("family_name")),
            picture=_text(info.get("picture")),
        )
