"""Embedded mode: the API in this process, over SQLite in $DEPLOYTRACE_HOME."""

from __future__ import annotations

from typing import Any

from deploytrace.cli.client import AsgiTransport
from deploytrace.settings import Settings


def embedded_transport(settings: Settings) -> AsgiTransport:
    def build() -> Any:
        from deploytrace.api.app import create_app
        from deploytrace.api.runtime import Runtime
        from deploytrace.services import tenancy
        from deploytrace.storage import migrate
        from deploytrace.storage.db import Database

        db = Database(settings.embedded_database_url, settings)
        migrate.ensure_current(db)
        return create_app(Runtime(db=db, settings=settings, local_actor=tenancy.local_actor(db)))

    return AsgiTransport(build)
