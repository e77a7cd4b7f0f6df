"""The FastAPI application factory."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI

from deploytrace import __version__
from deploytrace.api import (
    deployments,
    environments,
    errors,
    evidence,
    health,
    tenancy,
    webhooks,
)
from deploytrace.api.limits import BodyLimit, CleanUrl
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
        docs_url="/docs",
        redoc_url=None,
        lifespan=_background(runtime, with_metrics) if background else None,
    )
    app.state.runtime = runtime
    errors.install(app)
    app.include_router(health.router)
    app.include_router(environments.environments_router)
    app.include_router(environments.logical_environments_router)
    app.include_router(deployments.router)
    app.include_router(evidence.router)
    app.include_router(tenancy.router)
    app.include_router(webhooks.router)
    if with_metrics:
        from deploytrace.api import metrics

        metrics.install(app)
    mount_dashboard(app)
    app.add_middleware(BodyLimit, limit=runtime.settings.max_body_bytes)
    app.add_middleware(CleanUrl)
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
    return create_app(
        Runtime(db=Database(settings.database_url, settings), settings=settings), background=True
    )
