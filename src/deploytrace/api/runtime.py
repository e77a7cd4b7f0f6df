"""What a running API needs: the database, the settings, and who is calling when embedded."""

from __future__ import annotations

from dataclasses import dataclass

from deploytrace.services.context import Actor
from deploytrace.settings import Settings
from deploytrace.storage.db import Database


@dataclass(frozen=True)
class Runtime:
    db: Database
    settings: Settings
    # Embedded mode has one user and no login: every request acts as this actor.
    local_actor: Actor | None = None
