"""Prometheus metrics: the process's registry and every family the server exposes.

Other packages never touch `prometheus_client`: they call the small functions below at the
moment something happens (an update committed, a deployment running), or register a
reading taken at scrape time (`watch`, for counts the code already keeps, such as loaded
documents). The edge (`collab/http/metrics.py`) renders `REGISTRY` for `GET /metrics`.

Each process has its own registry and exposes only its own numbers: Prometheus scrapes
every process and sums. Labels are bounded by construction (route templates, never paths;
status codes; reasons from a fixed list), so a hostile client cannot grow the series.

Nothing here may raise into the caller's path: a metric is never worth a failed edit.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

# Seconds: an edit's path is milliseconds; a deployment's start is seconds to minutes.
FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
HTTP = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SLOW = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)

# -- HTTP ------------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "collab_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "collab_http_request_duration_seconds",
    "Time until the handler answered an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=HTTP,
    registry=REGISTRY,
)

# -- documents -------------------------------------------------------------------------------

UPDATES_APPLIED = Counter(
    "collab_document_updates_applied",
    "Document updates committed and applied: from this process's sockets (`local`) or "
    "from another process through Redis (`remote`).",
    ["source"],
    registry=REGISTRY,
)
UPDATES_REFUSED = Counter(
    "collab_document_updates_refused",
    "Document and awareness messages refused with sync-error, by reason (the error code).",
    ["reason"],
    registry=REGISTRY,
)
COMMIT_BATCH = Histogram(
    "collab_document_commit_batch_size",
    "Updates committed together in one group commit.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
    registry=REGISTRY,
)
COMMIT_SECONDS = Histogram(
    "collab_document_commit_seconds",
    "Time to commit one batch of document updates to PostgreSQL.",
    buckets=FAST,
    registry=REGISTRY,
)
RELAY_SECONDS = Histogram(
    "collab_document_relay_seconds",
    "Time from receiving a client's update to relaying it to the other sockets (check, "
    "commit, apply).",
    buckets=FAST,
    registry=REGISTRY,
)

# -- Redis fan-out ---------------------------------------------------------------------------

FANOUT_MESSAGES = Counter(
    "collab_fanout_messages",
    "Document fan-out messages over Redis: published (`out`) and received from other "
    "processes (`in`), by kind (update, awareness).",
    ["direction", "kind"],
    registry=REGISTRY,
)
FANOUT_LAG = Histogram(
    "collab_fanout_lag_seconds",
    "Time from handing a message to the fan-out until Redis accepted it (queue wait and "
    "the publish round trip).",
    buckets=FAST,
    registry=REGISTRY,
)

# -- deployments -----------------------------------------------------------------------------

DEPLOYMENT_STATUS = Counter(
    "collab_deployment_status_changes",
    "Deployments entering a status (starting, running, stopping, stopped, failed).",
    ["status"],
    registry=REGISTRY,
)
DEPLOYMENT_START = Histogram(
    "collab_deployment_start_seconds",
    "Time from a deploy request until the app answers (running); failures are not counted.",
    buckets=SLOW,
    registry=REGISTRY,
)
PREVIEW_REQUESTS = Counter(
    "collab_preview_requests",
    "Requests to deployed apps through the preview proxy, by status of the answer.",
    ["status"],
    registry=REGISTRY,
)

# -- webhooks --------------------------------------------------------------------------------

WEBHOOK_DELIVERIES = Counter(
    "collab_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, retrying, failed).",
    ["outcome"],
    registry=REGISTRY,
)


# -- readings taken at scrape time -----------------------------------------------------------

Reading = Callable[[], Iterable[tuple[tuple[str, ...], float]]]


class _Watched(Collector):
    """A gauge whose value is read when Prometheus scrapes: the sum over every watcher
    registered (tests run several apps in one process; each registers its own)."""

    def __init__(self, name: str, documentation: str, labels: list[str]) -> None:
        self.name, self.documentation, self.labels = name, documentation, labels
        self._readings: dict[int, Reading] = {}
        self._next = 0
        REGISTRY.register(self)

    def watch(self, reading: Reading) -> Callable[[], None]:
        """Add a reading; returns the function that removes it again."""
        self._next += 1
        handle = self._next
        self._readings[handle] = reading

        def unwatch() -> None:
            self._readings.pop(handle, None)

        return unwatch

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        totals: dict[tuple[str, ...], float] = {}
        for reading in list(self._readings.values()):
            with contextlib.suppress(Exception):  # a failing reading must not break a scrape
                for labels, value in reading():
                    totals[labels] = totals.get(labels, 0.0) + value
        for labels, value in sorted(totals.items()):
            family.add_metric(list(labels), value)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(self.name, self.documentation, labels=self.labels)


LOADED_DOCUMENTS = _Watched(
    "collab_documents_loaded", "Documents held in memory by this process.", []
)
SOCKETS = _Watched(
    "collab_socketio_connections",
    "Connected Socket.IO sockets, by namespace kind (session: `/`, document: `/yjs|…`).",
    ["kind"],
)
DEPLOYMENTS = _Watched(
    "collab_deployments",
    "Live deployments (starting, running, stopping) by status, read from PostgreSQL at "
    "each scrape: the same in every process, so aggregate with max(), not sum().",
    ["status"],
)


# -- the hooks other packages call -----------------------------------------------------------


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


# Per edit: the labelled children, looked up once (`labels()` takes a lock and a dict lookup).
_APPLIED_LOCAL = UPDATES_APPLIED.labels("local")
_APPLIED_REMOTE = UPDATES_APPLIED.labels("remote")


def update_applied(remote: bool = False) -> None:
    (_APPLIED_REMOTE if remote else _APPLIED_LOCAL).inc()


def update_refused(reason: str) -> None:
    UPDATES_REFUSED.labels(reason).inc()


def update_relayed(received_at: float) -> None:
    """`received_at`: `time.perf_counter()` when the update came in."""
    RELAY_SECONDS.observe(time.perf_counter() - received_at)


def batch_committed(size: int, seconds: float) -> None:
    COMMIT_BATCH.observe(size)
    COMMIT_SECONDS.observe(seconds)


def fanout_out(kind: str, count: int = 1) -> None:
    FANOUT_MESSAGES.labels("out", kind).inc(count)


def fanout_in(kind: str) -> None:
    FANOUT_MESSAGES.labels("in", kind).inc()


def fanout_lag(seconds: float) -> None:
    FANOUT_LAG.observe(seconds)


def deployment_status(status: str) -> None:
    DEPLOYMENT_STATUS.labels(status).inc()


def deployment_started(seconds: float) -> None:
    DEPLOYMENT_START.observe(seconds)


def preview_request(status: int) -> None:
    PREVIEW_REQUESTS.labels(str(status)).inc()


def webhook_delivery(outcome: str) -> None:
    WEBHOOK_DELIVERIES.labels(outcome).inc()
