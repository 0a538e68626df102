"""The delivery workers: every server process runs one, claiming due deliveries from the
PostgreSQL queue (`WebhookStore.claim`, FOR UPDATE SKIP LOCKED) and POSTing them.

Each attempt is recorded (status code, duration, error). A 2xx settles the delivery; any
other answer, a timeout, a refused address or a connection error schedules the next
attempt (`backoff.next_attempt`); once 24 h have passed the delivery fails, and the
endpoint is disabled and whoever registered it is told by mail.

Never: follow a redirect, use a proxy from the environment, or dial an address `ssrf`
refuses (checked on the addresses the connection really uses, see `GuardedResolver`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from auth.mail import Mail, Mailer
from collab.webhooks import backoff, signing, ssrf
from collab.webhooks.store import Claimed, WebhookStore

log = logging.getLogger(__name__)

USER_AGENT = "collab-webhooks/1"


class GuardedResolver(AbstractResolver):
    """Resolves as usual, then refuses names whose addresses `ssrf` refuses."""

    def __init__(self, allowed: Collection[str]) -> None:
        self._inner = DefaultResolver()
        self._allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        reason = ssrf.resolved_refusal(
            host.rstrip(".").lower(), [r["host"] for r in results], self._allowed
        )
        if reason is not None:
            raise OSError(f"refused: {reason}")
        return results

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class DeliveryTiming:
    poll_seconds: float = 1.0
    timeout_seconds: float = 10.0
    first_retry_seconds: float = backoff.FIRST_DELAY_SECONDS
    give_up_after: timedelta = backoff.GIVE_UP_AFTER
    batch: int = 20
    # Settled deliveries (and their attempts) are kept this long for the deliveries list,
    # then pruned, looked at this often: every event adds rows for every endpoint.
    keep_settled: timedelta = timedelta(days=30)
    prune_every_seconds: float = 3600.0
    # In batches between delivery rounds, so a large backlog never holds deliveries up.
    prune_batch: int = 1000


def body_of(claimed: Claimed) -> bytes:
    """What is POSTed: `{id, event, created_at, workspace_id, data}`; the id is the
    delivery's, the same on every retry (receivers deduplicate on it)."""
    return json.dumps(
        {
            "id": str(claimed.delivery_id),
            "event": claimed.event,
            "created_at": claimed.created_at.astimezone(UTC).isoformat(),
            "workspace_id": str(claimed.ws_id),
            "data": claimed.data,
        },
        separators=(",", ":"),
    ).encode()


class DeliveryWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: WebhookStore,
        open_secret: Callable[[dict[str, str]], str],
        allowed_hosts: Collection[str],
        mailer: Mailer,
        email_of: Callable[[uuid.UUID], Awaitable[str | None]],
        timing: DeliveryTiming = DeliveryTiming(),
        on_outcome: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        self._pool = pool
        self._store = store
        self._open = open_secret
        self._allowed = frozenset(h.rstrip(".").lower() for h in allowed_hosts)
        self._mailer = mailer
        self._email_of = email_of
        self._timing = timing
        self._on_outcome = on_outcome  # metrics: delivered, retrying, failed
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=GuardedResolver(self._allowed), limit=50),
            timeout=aiohttp.ClientTimeout(total=self._timing.timeout_seconds),
            trust_env=False,
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name="webhooks:deliver")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Attempts in flight finish (bounded by the timeout); unfinished ones are due again
        # once their lease passes, on whichever process is running then.
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=self._timing.timeout_seconds)
        if self._http is not None:
            await self._http.close()

    async def __aenter__(self) -> DeliveryWorker:
        self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def wake(self) -> None:
        """Something was queued on this process: look now rather than at the next poll."""
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        # The first a minute after start: a process restarted more often than hourly prunes.
        next_prune = loop.time() + min(60.0, self._timing.prune_every_seconds)
        while True:
            if loop.time() >= next_prune and not await self._prune():
                next_prune = loop.time() + self._timing.prune_every_seconds
            try:
                claimed = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook delivery round failed")
                claimed = 0
            if claimed >= self._timing.batch:
                continue  # more may be due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._timing.poll_seconds)
            self._wake.clear()

    async def _prune(self) -> bool:
        """Prune one batch; whether more may be left (then the next round prunes again)."""
        batch = self._timing.prune_batch
        try:
            pruned = await self._store.prune(self._pool, self._timing.keep_settled, batch)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pruning settled webhook deliveries failed; tried again later")
            return False
        if pruned:
            log.info("pruned %d settled webhook deliveries", pruned)
        return pruned >= batch

    async def run_once(self) -> int:
        """Claim what is due and deliver it; how many were claimed."""
        lease = self._timing.timeout_seconds + 30
        claimed = await self._store.claim(self._pool, self._timing.batch, lease)
        tasks = [asyncio.create_task(self._deliver(c)) for c in claimed]
        self._inflight.update(tasks)
        for task in tasks:
            task.add_done_callback(self._inflight.discard)
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                log.error("a webhook delivery failed", exc_info=result)
        return len(claimed)

    async def _post(self, claimed: Claimed) -> Outcome:
        assert self._http is not None
        try:
            target = ssrf.parse_url(claimed.url)
        except ssrf.RefusedUrl as exc:
            return Outcome(None, f"refused: {exc}")
        reason = ssrf.host_refusal(target.host, self._allowed)
        if reason is not None:
            return Outcome(None, f"refused: {reason}")
        body = body_of(claimed)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            signing.EVENT_HEADER: claimed.event,
            signing.DELIVERY_HEADER: str(claimed.delivery_id),
            signing.SIGNATURE_HEADER: signing.signature_header(
                self._open(claimed.secret_sealed), timestamp, body
            ),
        }
        try:
            async with self._http.post(
                claimed.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.content.read(64 * 1024)  # a little of the answer, then close
                return Outcome(response.status, None if response.status < 300 else "not 2xx")
        except TimeoutError:
            return Outcome(None, f"timed out after {self._timing.timeout_seconds:g} s")
        except aiohttp.ClientConnectorError as exc:
            return Outcome(None, f"could not connect: {exc.os_error}")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # ValueError: a host the resolver cannot encode (UnicodeError), stored before
            # `ssrf.parse_url` refused such names; an attempt that failed, like any other.
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])

    async def _deliver(self, claimed: Claimed) -> None:
        started = time.monotonic()
        outcome = await self._post(claimed)
        duration_ms = int((time.monotonic() - started) * 1000)
        now = datetime.now(UTC)
        retry_at = None
        if outcome.delivered:
            status = "delivered"
        else:
            retry_at = backoff.next_attempt(
                claimed.attempt,
                claimed.created_at,
                now,
                first_delay=self._timing.first_retry_seconds,
                give_up_after=self._timing.give_up_after,
            )
            status = "pending" if retry_at is not None else "failed"
        async with self._pool.acquire() as conn, conn.transaction():
            await self._store.record_attempt(
                conn, claimed, outcome.status_code, duration_ms, outcome.error
            )
            settled = await self._store.finish(
                conn, claimed.delivery_id, claimed.attempt, status, retry_at
            )
            disabled = None
            if settled and status == "failed":
                disabled = await self._store.disable(
                    conn,
                    claimed.webhook_id,
                    f"deliveries failed for {self._timing.give_up_after} "
                    f"(last: {outcome.error or outcome.status_code})",
                )
        self._on_outcome("delivered" if outcome.delivered else status_name(status))
        if disabled is not None:
            await self._tell_owner(disabled, outcome)

    async def _tell_owner(self, webhook: asyncpg.Record, outcome: Outcome) -> None:
        if webhook["created_by"] is None:
            return
        try:
            email = await self._email_of(webhook["created_by"])
            if email is None:
                return
            await self._mailer.send(
                Mail(
                    to=email,
                    subject="A webhook of your workspace was disabled",
                    body=(
                        f"Deliveries to {webhook['url']} have failed for "
                        f"{self._timing.give_up_after}, so the webhook "
                        f"{webhook['webhook_id']} of workspace {webhook['ws_id']} was "
                        f"disabled.\n\nLast failure: "
                        f"{outcome.error or f'HTTP {outcome.status_code}'}\n\n"
                        "Fix the endpoint, then turn the webhook back on "
                        "(PATCH it with enabled: true).\n"
                    ),
                )
            )
        except Exception:
            log.exception("telling the owner of webhook %s failed", webhook["webhook_id"])


def status_name(status: str) -> str:
    return "retrying" if status == "pending" else status
