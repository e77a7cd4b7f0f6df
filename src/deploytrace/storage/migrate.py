"""Schema upgrades: Alembic migrations are the only way any schema is made.

`ensure_current` is on every embedded CLI call, so its fast path is a single
query comparing the stored revision with `HEAD`, without importing Alembic.
Concurrent upgraders (two replicas starting, two CLI calls on a fresh file)
serialize on a lock and the second one finds the schema current.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, exc, text

from deploytrace.errors import DeploytraceError, Unavailable
from deploytrace.storage.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision in migrations/versions; a test keeps the two in step.
HEAD = "0012"

_LOCK_KEY = 0x6465706C6F79  # "deploy": the advisory lock id for upgrades on PostgreSQL
# Alembic's `context` is process-global: upgrades in one process must not overlap.
_IN_PROCESS = threading.Lock()


def current_revision(conn: Connection) -> str | None:
    try:
        with conn.begin_nested():
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except exc.ProgrammingError:
        return None
    except exc.OperationalError as error:
        # SQLite reports a missing table as an OperationalError.
        if "no such table" in str(error):
            return None
        raise


def is_current(db: Database) -> bool:
    with db.read() as conn:
        return current_revision(conn) == HEAD


def upgrade(db: Database) -> bool:
    """Upgrade to HEAD; return True when a migration ran."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with _IN_PROCESS:
        return _upgrade(db, config)


def _upgrade(db: Database, config: Config) -> bool:
    from alembic import command

    try:
        with db.engine.connect() as conn:
            if db.is_postgres:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
                conn.commit()
            try:
                conn.info["write"] = True
                # One transaction (SQLite: BEGIN IMMEDIATE) from reading the revision
                # to the last migration, so two upgraders cannot both find it old.
                # Alembic runs inside a transaction it finds open and leaves it to us.
                with conn.begin():
                    before = current_revision(conn)
                    config.attributes["connection"] = conn
                    command.upgrade(config, "head")
                return before != HEAD
            finally:
                if db.is_postgres:
                    conn.rollback()
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                    conn.commit()
    except DeploytraceError:
        raise
    except (exc.OperationalError, exc.InterfaceError) as error:
        raise Unavailable(f"database unavailable: {str(error.orig).strip()}") from error


def ensure_current(db: Database) -> bool:
    """Fast check, upgrade only when needed; return True when a migration ran."""
    if is_current(db):
        return False
    return upgrade(db)
