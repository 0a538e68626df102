"""Typed, frozen settings read once from the environment (`COLLAB_*`).

Every field here is documented in the README's configuration table; keep the two in step.
Command-line flags override the environment by being passed as keyword arguments.
"""

from __future__ import annotations

import enum
import logging
from ipaddress import IPv4Network, ip_network
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COLLAB_", frozen=True, extra="forbid")

    env: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path(".collab-data")
    public_url: str | None = None

    database_url: SecretStr | None = None
    redis_url: SecretStr | None = None
    mongo_url: SecretStr | None = None
    docker_host: str | None = None

    secret_key: SecretStr | None = None
    previous_secret_keys: SecretStr | None = None

    log_format: LogFormat = LogFormat.TEXT
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    auto_migrate: bool = True
    frontend_url: str | None = None

    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86400)
    refresh_idle_days: int = Field(default=14, ge=1)
    refresh_absolute_days: int = Field(default=30, ge=1)
    refresh_grace_seconds: int = Field(default=10, ge=0, le=300)
    password_policy: str = Field(default="composition", pattern="^(composition|length)$")
    argon2_memory_kib: int = Field(default=47104, ge=8192)
    argon2_time_cost: int = Field(default=1, ge=1)
    argon2_parallelism: int = Field(default=1, ge=1)
    invitation_ttl_days: int = Field(default=7, ge=1, le=365)
    # A deleted account can be restored by logging in for this long, then it is purged.
    account_deletion_grace_days: int = Field(default=7, ge=0, le=365)

    max_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    socket_messages_per_second: float = Field(default=200.0, gt=0)
    # Bytes of document messages per socket and second (bursts of twice the largest message).
    socket_bytes_per_second: int = Field(default=512 * 1024, ge=1024)
    document_idle_seconds: float = Field(default=60.0, gt=0)
    document_compact_after: int = Field(default=500, ge=1)
    # Whether committing document updates waits for PostgreSQL's disk flush. Off (the
    # default): a killed server loses nothing, and what a crashed database lost of its last
    # ~0.6 s the server stores again from memory once it is back (collab/documents/writer.py);
    # only a crash of both (the machine) leaves it to the clients, which send it back when
    # they reconnect. On: every update also survives a machine crash, at about twice the
    # latency under load (docs/performance.md, "Durability").
    document_synchronous_commit: bool = False
    # File history (docs/file-versions.md): automatic versions kept per file (compactions,
    # copies before a restore), and, apart, named checkpoints per file.
    document_versions_keep: int = Field(default=50, ge=1, le=10_000)
    # Files one session (or workspace) may hold; creating one more gets `quota_exceeded`.
    max_files_per_scope: int = Field(default=1000, ge=1)
    # Live sessions one user may own that are not archived (429 beyond).
    max_sessions_per_user: int = Field(default=100, ge=1)
    # SIGTERM drains: stop accepting, close every socket so clients reconnect elsewhere,
    # commit what is in flight; past this the process is ended (exit 1, logged).
    shutdown_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    # A TCP connection that sends no complete request (half-open, slow headers) or stays
    # idle between requests this long is closed.
    idle_connection_timeout_seconds: float = Field(default=30.0, gt=0)
    # An Engine.IO connection with no Socket.IO namespace connected (no authenticated
    # handshake) this long is closed.
    socket_auth_timeout_seconds: float = Field(default=10.0, gt=0)
    # New Socket.IO connections per client address: a burst, refilled at a rate; beyond,
    # the handshake answers 429 `rate_limited` with Retry-After.
    socket_connections_burst: int = Field(default=60, ge=1)
    socket_connections_per_second: float = Field(default=5.0, gt=0)

    runtimes_file: Path | None = None
    # Unused since deployments have networks of their own (no host port is published);
    # still accepted so existing configurations keep starting.
    deploy_port_min: int = Field(default=20000, ge=1024, le=65535)
    deploy_port_max: int = Field(default=29999, ge=1024, le=65535)
    deploy_start_timeout_seconds: float = Field(default=30.0, gt=0)
    deploy_max_per_user: int = Field(default=3, ge=1)
    deploy_max_per_session: int = Field(default=2, ge=1)
    deploy_idle_seconds: float = Field(default=600.0, gt=0)
    deploy_max_lifetime_seconds: float = Field(default=4 * 3600.0, gt=0)
    deploy_check_interval_seconds: float = Field(default=5.0, gt=0)
    # Each deployment is on its own bridge network: `none` (internal, no route out) or
    # `internet` (outbound NAT, never to private ranges). Its subnet is a /28 of the pool.
    deploy_egress: str = Field(default="none", pattern="^(none|internet)$")
    deploy_subnet_pool: IPv4Network = IPv4Network("172.30.0.0/16")
    # What runs deployments: `docker` (a container each, on COLLAB_DOCKER_HOST) or `swarm`
    # (a service each, on the swarm that host manages; docs/deployments-swarm.md).
    deploy_engine: str = Field(default="docker", pattern="^(docker|swarm)$")
    # The cluster this process reconciles and reaps (recorded on rows, labelled on engine
    # objects). Unset: the engine's id (the daemon's, or the swarm's) with the database's.
    deploy_cluster: str | None = Field(default=None, min_length=1, max_length=100)
    # What a deployment printed that outlives it (the last bytes of its output).
    deploy_log_keep_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Dependencies (requirements.txt, package.json + package-lock.json) are fetched by the
    # server from these indexes only, then installed offline in a build container.
    deploy_pip_index_url: str = Field(default="https://pypi.org/simple", pattern="^https?://")
    deploy_npm_registry: str = Field(default="https://registry.npmjs.org/", pattern="^https?://")
    deploy_install_timeout_seconds: float = Field(default=300.0, gt=0)

    # Prometheus: `GET /metrics` needs `Authorization: Bearer <metrics_token>` (404 when
    # unset); `metrics_port` also serves it on 127.0.0.1 without a token (docs/metrics.md).
    metrics_token: SecretStr | None = None
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    smtp_url: SecretStr | None = None
    mail_from: str = "collab <noreply@localhost>"

    github_client_id: str | None = None
    github_client_secret: SecretStr | None = None
    github_url: str = "https://github.com"
    github_api_url: str = "https://api.github.com"
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_issuer: str = "https://accounts.google.com"

    # Previews are served on their own origin, `{deployment_id}.{preview_domain}`; the
    # default is `localhost:{port}`, which browsers resolve to loopback (development only).
    preview_domain: str | None = None
    # Also serve previews under `/preview/{id}/` on the app's origin: unsafe for untrusted
    # code (a preview's scripts would run on the app's origin).
    preview_paths: bool = False

    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()

    _split = field_validator("allowed_origins", "trusted_proxies", mode="before")(_split_csv)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Checked here, at start: an entry that is no address or network made every request
        # that looks up the caller's address (authentication, rate limits) fail with a 500.
        for entry in value:
            try:
                ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (e.g. 10.0.0.0/8)"
                ) from None
        return value

    @field_validator("public_url", "frontend_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        # Links, token issuers and the trusted origin are built from these: without a scheme
        # and host the origin became `://` and every browser was refused.
        if value is not None:
            parts = urlsplit(value.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{value!r} is not an http(s) URL such as https://example.com")
            return value.strip()
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Compared with a browser's `Origin` (scheme://host[:port]): anything else never matches.
        for entry in value:
            parts = urlsplit(entry)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
                or parts.username is not None
            ):
                raise ValueError(
                    f"{entry!r} is not a browser origin such as https://ide.example.com"
                )
        return value

    @field_validator("preview_domain")
    @classmethod
    def _bare_domain(cls, value: str | None) -> str | None:
        if value is not None and ("/" in value or "@" in value or not value.strip(". ")):
            raise ValueError(f"{value!r} is not a domain such as preview.example.net")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if not isinstance(logging.getLevelName(value.strip().upper()), int):
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return value.strip().upper()

    # Webhooks (docs/webhooks.md): hosts that may be loopback/private addresses anyway
    # (comma-separated names or literal addresses, e.g. an internal receiver, or tests).
    webhook_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Retries: exponential backoff with jitter from this first delay, up to this long.
    webhook_first_retry_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_hours: float = Field(default=24.0, gt=0, le=24 * 7)
    # file.changed is sent at most once per file per this window.
    webhook_file_debounce_seconds: float = Field(default=5.0, ge=0)

    _split_webhook_hosts = field_validator("webhook_allowed_hosts", mode="before")(_split_csv)

    # Import and git (docs/import-export-git.md): an uploaded zip's size, its files, and
    # what they unpack to; git remotes that may be loopback/private hosts anyway (tests).
    import_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    import_max_files: int = Field(default=1000, ge=1)
    import_max_unpacked_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    import_max_file_bytes: int = Field(default=2 * 1024 * 1024, ge=1)
    git_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    git_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    # CA certificates git trusts for https remotes (an internal CA); the system's when unset.
    git_ca_file: Path | None = None

    _split_git_hosts = field_validator("git_allowed_hosts", mode="before")(_split_csv)

    @model_validator(mode="after")
    def _previews_apart_in_production(self) -> Settings:
        # The development default (`{id}.localhost:{port}`) means nothing to other machines,
        # and previews on the app's own domain would share its site.
        if self.env is Environment.PRODUCTION and not self.preview_domain:
            raise ValueError(
                "COLLAB_ENV=production needs COLLAB_PREVIEW_DOMAIN: a domain of its own for "
                "previews, e.g. example-preview.net with wildcard DNS and a wildcard certificate"
            )
        return self

    @property
    def base_url(self) -> str:
        """The public URL links and deployment URLs are built from (never the Host header)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def token_issuer(self) -> str:
        """The `iss` of access tokens: the same for every process of one deployment."""
        return self.public_url.rstrip("/") if self.public_url else "collab"

    @property
    def links_base_url(self) -> str:
        """Where mailed links point: the front-end when one is configured."""
        return (self.frontend_url or self.base_url).rstrip("/")

    @property
    def preview_host_suffix(self) -> str:
        """The `host[:port]` every preview's host ends with, after `{deployment_id}.`."""
        if self.preview_domain:
            return self.preview_domain.strip().strip(".").lower()
        port = urlsplit(self.base_url).port
        return f"localhost:{port}" if port else "localhost"

    def preview_url(self, deployment_id: str) -> str:
        """The absolute URL of a deployment's preview, on its own origin."""
        scheme = urlsplit(self.base_url).scheme or "http"
        return f"{scheme}://{deployment_id}.{self.preview_host_suffix}/"

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with explicit overrides (e.g. CLI flags) winning."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
