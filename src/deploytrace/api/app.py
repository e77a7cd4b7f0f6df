"""The FastAPI application factory."""

from __future__ import annotations

import os

from fastapi import FastAPI

from deploytrace import __version__
from deploytrace.api import (
    artifacts,
    attestations,
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
)
from deploytrace.api.limits import BodyLimit, CleanUrl
from deploytrace.api.routing import ReadRouting
from deploytrace.api.runtime import Runtime
from deploytrace.dashboard import mount as mount_dashboard
from deploytrace.settings import Settings
from deploytrace.storage.db import Database


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="deploytrace",
        version=__version__,
        summary="What is running where, and what evidence stands behind it.",
        docs_url="/docs",
        redoc_url=None,
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
    app.include_router(artifacts.router)
    app.include_router(trust.router)
    app.include_router(tenancy.router)
    app.include_router(policies.router)
    app.include_router(search.router)
    mount_dashboard(app)
    if runtime.db.replica is not None:
        app.add_middleware(ReadRouting)
    app.add_middleware(BodyLimit, limit=runtime.settings.max_body_bytes)
    app.add_middleware(CleanUrl)
    return app


def server_app() -> FastAPI:
    """Factory for `uvicorn --factory` (the `deploytrace server` command sets the environment)."""
    settings = Settings.from_env(dict(os.environ))
    if not settings.database_url:
        raise SystemExit("DEPLOYTRACE_DATABASE_URL is not set")
    db = Database(settings.database_url, settings, read_url=settings.database_read_url)
    return create_app(Runtime(db=db, settings=settings))
