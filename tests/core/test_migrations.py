"""The migrations are the schema: in step with the tables, idempotent, safe concurrently."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from deploytrace.storage import migrate
from deploytrace.storage.db import Database
from tests.support.schema import all_tables

metadata = all_tables()


def test_head_constant_matches_the_migration_scripts() -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(config).get_heads() == [migrate.HEAD]


def test_table_definitions_match_the_migrated_schema(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrade_is_idempotent(db: Database) -> None:
    assert migrate.is_current(db)
    assert migrate.upgrade(db) is False
    assert migrate.ensure_current(db) is False


def test_concurrent_upgrades_of_a_fresh_database(database_url: str) -> None:
    """Three processes upgrade one empty database at once: one migrates, two find it current."""
    db = Database(database_url)
    with db.engine.begin() as conn:
        metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE alembic_version")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deploytrace",
                *["db", "upgrade", "-o", "json", "--database-url"],
                database_url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outcomes.append(json.loads(out)["migrated"])
    assert sorted(outcomes) == [False, False, True]
    assert migrate.is_current(db)
    db.dispose()
