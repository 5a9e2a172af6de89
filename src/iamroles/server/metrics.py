"""Prometheus metrics of a serving process (``serve --metrics-port``), with prometheus-client.

What is measured, and where:

* ``iamroles_requests_total{service, operation, outcome}``: every call the audit trail records (so refusals
  before authentication too), ``outcome`` being ``Success`` or the AWS error code answered;
* ``iamroles_request_duration_seconds{operation}``: from the request's first byte handled to its answer sent
  (waiting for its audit event included), measured around the ASGI app (:mod:`.observe`);
* ``iamroles_sessions_issued_total{operation}``: temporary credentials issued (AssumeRole and its siblings,
  GetSessionToken, GetFederationToken, the API's service-credentials);
* ``iamroles_authorization_decisions_total{effect}``: the policy core's decisions (Allow, ExplicitDeny,
  ImplicitDeny), ``iamroles_cache_lookups_total{cache, result}`` (hit or miss of the row, policy-set,
  compiled-policy and key caches) and ``iamroles_audit_queue_depth`` (events handed to the trail's writer,
  not yet written): counted by the components themselves with a plain integer each, and copied into the
  metrics when they are read (and once a second with several workers), so the request path pays nothing
  for them.

Labels are bounded whatever clients send: an operation that is not one of the botocore models' (or the JSON
API's) is ``unknown``, and outcomes are error classes' codes.

With ``serve --workers N`` every worker writes its metrics to memory-mapped files in a private directory
(prometheus-client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``, set by the parent before it forks);
whichever worker answers a scrape sums every worker's, so one scrape sees the whole server. The counted values
above are copied by each worker once a second (a scrape may see another worker's up to a second late).
"""
from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from iamroles.policy import Effect
from iamroles.protocol import service_model
from iamroles.runtime import CallRecord, Service
from iamroles.runtime.trail import Settling, Trail
from iamroles.store import Tx

__all__ = ["Metrics", "MULTIPROC_ENV", "known_operations"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_SESSION_ISSUERS = frozenset({"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetSessionToken",
                              "GetFederationToken", "GetServiceCredentials"})
_API_OPERATIONS = frozenset({"GetServiceCredentials", "AuthorizeRequest", "service-credentials", "authorize"})
# latency buckets for an endpoint whose hot calls take well under a millisecond and whose slowest wait on a disk
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def known_operations() -> frozenset[str]:
    """Every operation name a label may carry (the IAM and STS models', the JSON API's)."""
    names = set(_API_OPERATIONS)
    for name in ("iam", "sts"):
        names.update(service_model(name).operation_names)
    return frozenset(names)


class Metrics:
    """One serving process's metrics over ``service``; ``render()`` is what ``GET /metrics`` answers."""

    def __init__(self, service: Service) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.service = service
        self._known = known_operations()
        registry = CollectorRegistry(auto_describe=True)
        self._own = registry  # the metrics are made in it, so two services in one process (tests) do not clash
        self.requests = Counter("iamroles_requests_total", "IAM, STS and API calls answered, by outcome "
                                "(Success or the AWS error code).", ["service", "operation", "outcome"], registry=registry)
        self.latency = Histogram("iamroles_request_duration_seconds", "Time to answer a request, its audit event's "
                                 "commit included where the answer waits for it.", ["operation"], buckets=_BUCKETS,
                                 registry=registry)
        self.sessions = Counter("iamroles_sessions_issued_total", "Temporary credentials issued.", ["operation"],
                                registry=registry)
        self.decisions = Counter("iamroles_authorization_decisions_total", "The policy core's decisions, by effect.",
                                 ["effect"], registry=registry)
        self.cache = Counter("iamroles_cache_lookups_total", "Cache lookups, by cache and result (hit or miss).",
                             ["cache", "result"], registry=registry)
        gauge: dict[str, Any] = {"multiprocess_mode": "livesum"} if self.multiprocess else {}
        self.audit_queue = Gauge("iamroles_audit_queue_depth", "Audit events handed to the trail's writer and not "
                                 "yet written.", registry=registry, **gauge)
        self._children: dict[tuple[str, str, str], Any] = {}
        self._timers: dict[str | None, Any] = {}
        self._unknown = self.latency.labels("unknown")
        self._copied: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.multiprocess:
            self._thread = threading.Thread(target=self._copy_every_second, name="iamroles-metrics", daemon=True)
            self._thread.start()

    # --- the request path -------------------------------------------------------------------------

    def call(self, record: CallRecord) -> None:
        """A call the trail recorded: its outcome, and the session it issued."""
        operation = record.operation if record.operation in self._known else "unknown"
        outcome = record.error_code or "Success"
        key = (record.service, operation, outcome)
        child = self._children.get(key)
        if child is None:
            child = self._children.setdefault(key, self.requests.labels(record.service if record.service in ("iam", "sts", "iamroles")
                                                                        else "unknown", operation, outcome))
        child.inc()
        if outcome == "Success" and operation in _SESSION_ISSUERS:
            self.sessions.labels(operation).inc()

    def observe(self, operation: str | None, seconds: float) -> None:
        """A request answered in ``seconds`` (``operation``: the Action or API name the request gave, if any)."""
        timer = self._timers.get(operation)
        if timer is None:
            if operation in self._known:  # remembered for the models' names only: a client's other names add nothing
                timer = self._timers[operation] = self.latency.labels(operation)
            else:
                timer = self._unknown
        timer.observe(seconds)

    # --- read when scraped ------------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The exposition of every metric (every worker's, with several) and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        self.copy()
        if not self.multiprocess:
            return generate_latest(self._own), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST

    def copy(self) -> None:
        """Copy what the components counted into the metrics (the increase since the last copy)."""
        with self._lock:
            counted = self._counted()
            for (name, label), value in counted:
                before = self._copied.get((name, label), 0)
                if value > before:
                    if name == "decision":
                        self.decisions.labels(label).inc(value - before)
                    else:
                        cache, _, result = label.partition(":")
                        self.cache.labels(cache, result).inc(value - before)
                self._copied[(name, label)] = value  # a cleared cache restarts its counts: counted again from there
            audit = self.service.audit
            self.audit_queue.set(len(getattr(audit, "_pending", ())))

    def _counted(self) -> Iterable[tuple[tuple[str, str], int]]:
        service = self.service
        decisions: dict[Effect, int] = getattr(service.cache, "decisions", {})
        for effect, count in list(decisions.items()):
            yield ("decision", effect.value), count
        for name, lru in self._caches():
            yield ("cache", f"{name}:hit"), lru.hits
            yield ("cache", f"{name}:miss"), lru.misses

    def _caches(self) -> Iterable[tuple[str, Any]]:
        service = self.service
        found = (("rows", getattr(service.store.shared, "_rows", None)),
                 ("policy_sets", getattr(service.cache, "_sets", None)),
                 ("compiled_policies", getattr(service.cache, "_docs", None)),
                 ("keys", getattr(getattr(service.authenticator, "resolver", None), "_cache", None)))
        return [(name, lru) for name, lru in found if lru is not None and hasattr(lru, "hits")]

    def _copy_every_second(self) -> None:
        while not self._stop.wait(1.0):
            self.copy()

    def counting(self, trail: Trail) -> Trail:
        """``trail``, counting each call it records in :meth:`call`."""
        return _Counted(trail, self)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self.multiprocess:
            self.copy()


class _Counted:
    """The audit trail, counting each call it is handed (every answered call passes through it once)."""

    def __init__(self, trail: Trail, metrics: Metrics) -> None:
        self.trail = trail
        self.metrics = metrics

    def write(self, call: CallRecord, when: datetime, *, tx: Tx | None = None,
              loop: asyncio.AbstractEventLoop | None = None) -> Settling | None:
        self.metrics.call(call)
        return self.trail.write(call, when, tx=tx, loop=loop)

    def close(self) -> None:
        self.trail.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.trail, name)
