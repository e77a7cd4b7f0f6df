"""The FastAPI application factory."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI

from deploytrace import __version__
from deploytrace.api import (
    artifacts,
    attestations,
    dashboard_support,
    deployments,
    environments,
    errors,
    health,
    insight,
    policies,
    search,
    snapshots,
    tenancy,
    trust,
    webhooks,
)
from deploytrace.api.limits import Authenticate, BodyLimit, CleanUrl, NoSniff
from deploytrace.api.routing import ReadRouting
from deploytrace.api.runtime import Runtime
from deploytrace.dashboard import mount as mount_dashboard
from deploytrace.settings import Settings
from deploytrace.storage.db import Database


def create_app(runtime: Runtime, *, background: bool = False) -> FastAPI:
    """The application; `background`: also run the server's background work (webhook
    delivery, the stale check) for as long as it is served (`deploytrace server`)."""
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
    app.include_router(health.router)
    app.include_router(environments.environments_router)
    app.include_router(environments.logical_environments_router)
    app.include_router(deployments.router)
    app.include_router(snapshots.router)
    app.include_router(insight.router)
    app.include_router(attestations.router)
    app.include_router(search.router)  # before artifacts: its /v1/artifacts/{digest}/…
    app.include_router(artifacts.router)
    app.include_router(trust.router)
    app.include_router(tenancy.router)
    app.include_router(policies.router)
    app.include_router(dashboard_support.router)
    app.include_router(webhooks.router)
    if with_metrics:
        from deploytrace.api import metrics

        metrics.install(app)
    mount_dashboard(app)
    # The last added runs first. An announced body over the limit is refused (413)
    # before the token is looked at; neither refusal reads the body. Authenticate
    # runs where the endpoint would (inside ReadRouting): its lookup routes alike.
    app.add_middleware(Authenticate, runtime=runtime)
    if runtime.db.replica is not None:
        app.add_middleware(ReadRouting)
    app.add_middleware(BodyLimit, limit=runtime.settings.max_body_bytes)
    app.add_middleware(CleanUrl)
    app.add_middleware(NoSniff)
    return app


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
