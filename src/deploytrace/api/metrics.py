"""Prometheus metrics: `GET /metrics` and the per-route request metrics (server mode).

Two kinds, one answer. The process's own (requests and their latency per route
template, webhook attempts) carry no organization label; with several server
processes they are summed across them through prometheus-client's multi-process
mode (`deploytrace server` sets PROMETHEUS_MULTIPROC_DIR). The organization's (active
and stale records, unattested workloads, webhook backlog) are read from the database
at scrape time for the token's organization, so every replica answers the same.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.services import delivery
from deploytrace.services import metrics as service

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

REQUESTS = Counter(
    "deploytrace_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "deploytrace_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ATTEMPTS = Counter(
    "deploytrace_webhook_attempts",
    "Webhook delivery attempts made by this process, by outcome.",
    ["outcome"],
)
GIVEN_UP = Counter(
    "deploytrace_webhook_deliveries_given_up",
    "Webhook deliveries marked failed after 24 h of retries (or a failed `webhook test`).",
)


def observe_deliveries(settled: delivery.Settled) -> None:
    if settled.delivered:
        ATTEMPTS.labels("delivered").inc(settled.delivered)
    failed = settled.retried + settled.given_up
    if failed:
        ATTEMPTS.labels("failed").inc(failed)
    if settled.given_up:
        GIVEN_UP.inc(settled.given_up)


class RequestMetrics:
    """ASGI middleware: count and time every request under its route's template."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            # Starlette leaves the matched route in the scope: its template, not the raw
            # path, so that ids in paths do not make a time series each.
            route = getattr(scope.get("route"), "path", None)
            template = (route or "/") if "route" in scope else "unmatched"
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(time.perf_counter() - started)


class _OrgCollector(Collector):
    def __init__(self, numbers: service.OrgMetrics) -> None:
        self.numbers = numbers

    def collect(self) -> Any:
        n = self.numbers
        labels = ["environment", "logical_environment"]
        for name, doc, counts in (
            ("deploytrace_records_active", "Deployment records deployed now.", n.active),
            (
                "deploytrace_records_stale",
                "Deployed records not seen for longer than their environment's stale-after.",
                n.stale,
            ),
            (
                "deploytrace_workloads_unattested",
                "Workloads running without evidence, as the last snapshot of their scope saw.",
                n.unattested,
            ),
        ):
            family = GaugeMetricFamily(name, doc, labels=labels)
            for c in counts:
                family.add_metric([c.environment, c.logical_environment], c.count)
            yield family
        yield GaugeMetricFamily(
            "deploytrace_webhook_backlog",
            "Webhook deliveries of the organization not delivered yet.",
            value=n.webhook_pending,
        )
        yield GaugeMetricFamily(
            "deploytrace_webhook_deliveries_failed",
            "Webhook deliveries of the organization given up after 24 h of retries.",
            value=n.webhook_failed,
        )


def _process_metrics() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
def metrics(db: DB, caller: CurrentCaller) -> Response:
    """Prometheus text format; any token of the organization (Prometheus `authorization`)."""
    numbers = service.org_metrics(db, caller.actor())
    org = CollectorRegistry()
    org.register(_OrgCollector(numbers))
    return Response(_process_metrics() + generate_latest(org), media_type=CONTENT_TYPE)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_middleware(RequestMetrics)
