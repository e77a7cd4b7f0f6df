"""The FastAPI application factory."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI

from deploytrace import __version__
from deploytrace.api import errors
from deploytrace.api.limits import Authenticate, BodyLimit, CleanUrl, NoSniff
from deploytrace.api.runtime import Runtime
from deploytrace.settings import Settings
from deploytrace.storage.db import Database

# Every router, in the order routes are matched, with the first path segments it serves
# (after /v1/ for the API). Order matters only among routers sharing a segment.
ROUTERS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("health", "router", frozenset({"healthz", "readyz"})),
    ("environments", "environments_router", frozenset({"environments"})),
    ("environments", "logical_environments_router", frozenset({"logical-environments"})),
    ("deployments", "router", frozenset({"deployments"})),
    ("snapshots", "router", frozenset({"environments", "unattested"})),
    ("insight", "router", frozenset({"diff", "metrics"})),
    ("attestations", "router", frozenset({"attestations"})),
    ("search", "router", frozenset({"search", "artifacts"})),  # before artifacts: /{digest}/…
    ("artifacts", "router", frozenset({"artifacts"})),
    ("trust", "router", frozenset({"trust"})),
    ("tenancy", "router", frozenset({"tokens", "audit"})),
    ("policies", "router", frozenset({"policies"})),
    ("dashboard_support", "router", frozenset({"dashboard"})),
    ("webhooks", "router", frozenset({"webhooks"})),
)


def _include(app: FastAPI, index: int) -> None:
    module, attribute, _segments = ROUTERS[index]
    router = getattr(importlib.import_module(f"deploytrace.api.{module}"), attribute)
    app.include_router(router)


def create_app(runtime: Runtime, *, background: bool = False, lazy: bool = False) -> FastAPI:
    """The application; `background`: also run the server's background work (webhook
    delivery, the stale check) for as long as it is served (`deploytrace server`).

    `lazy` (the embedded CLI): a router is imported and included when the first request
    for its path arrives, so that a heartbeat does not pay to import the other thirteen.
    The routes, middleware and error handlers are the server's; only when they are built
    differs."""
    # Metrics are a server's: embedded calls would pay prometheus-client's import for nothing.
    with_metrics = runtime.local_actor is None and runtime.settings.metrics
    app = FastAPI(
        title="deploytrace",
        version=__version__,
        summary="What is running where, and what evidence stands behind it.",
        # No Swagger UI: it loads third-party JavaScript onto the dashboard's origin,
        # where the dashboard keeps its token. The document is at /openapi.json.
        docs_url=None,
        redoc_url=None,
        lifespan=_background(runtime, with_metrics) if background else None,
    )
    app.state.runtime = runtime
    errors.install(app)
    if not lazy:
        for index in range(len(ROUTERS)):
            _include(app, index)
        if with_metrics:
            from deploytrace.api import metrics

            metrics.install(app)
        from deploytrace.dashboard import mount as mount_dashboard

        mount_dashboard(app)
    # The last added runs first. An announced body over the limit is refused (413)
    # before the token is looked at; neither refusal reads the body. Authenticate
    # runs where the endpoint would (inside ReadRouting): its lookup routes alike.
    app.add_middleware(Authenticate, runtime=runtime)
    if runtime.db.replica is not None:
        from deploytrace.api.routing import ReadRouting

        app.add_middleware(ReadRouting)
    app.add_middleware(BodyLimit, limit=runtime.settings.max_body_bytes)
    app.add_middleware(CleanUrl)
    app.add_middleware(NoSniff)
    if lazy:
        app.add_middleware(_LazyRouters, owner=app)
    return app


class _LazyRouters:
    """ASGI middleware: includes, before a request is routed, the routers its path needs."""

    def __init__(self, app: Any, owner: FastAPI) -> None:
        self.app = app
        self.owner = owner
        self.loaded: set[int] = set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.prepare(scope["path"])
        await self.app(scope, receive, send)

    def prepare(self, path: str) -> None:
        parts = path.strip("/").split("/")
        segment = parts[1] if parts[0] == "v1" and len(parts) > 1 else parts[0]
        wanted = [i for i, (_m, _a, segments) in enumerate(ROUTERS) if segment in segments]
        if not wanted:  # not a path of the API's (the dashboard's, or a typo): everything
            wanted = list(range(len(ROUTERS)))
        for index in wanted:
            if index not in self.loaded:
                _include(self.owner, index)
                self.loaded.add(index)


def _background(runtime: Runtime, with_metrics: bool) -> Callable[[Any], Any]:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        from deploytrace.api import workers

        observe: Callable[[Any], None] = lambda _settled: None  # noqa: E731
        if with_metrics:
            from deploytrace.api import metrics

            observe = metrics.observe_deliveries
        async with workers.running(runtime.db, runtime.settings, observe):
            yield

    return lifespan


def server_app() -> FastAPI:
    """Factory for `uvicorn --factory` (the `deploytrace server` command sets the environment)."""
    settings = Settings.from_env(dict(os.environ))
    if not settings.database_url:
        raise SystemExit("DEPLOYTRACE_DATABASE_URL is not set")
    db = Database(settings.database_url, settings, read_url=settings.database_read_url)
    return create_app(Runtime(db=db, settings=settings), background=True)
