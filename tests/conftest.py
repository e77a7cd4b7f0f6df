"""Shared fixtures: databases on SQLite and on a real PostgreSQL, the API, the CLI."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from deploytrace.storage import migrate
from deploytrace.storage.db import Database
from tests.support.api import ApiHarness
from tests.support.cli import CliRunner
from tests.support.postgres import PostgresServer, start_server

IN_CI = os.environ.get("CI", "").lower() == "true"

# Hypothesis in CI: the same examples on every run (derandomize), so a failure
# seen there is seen again by whoever reruns it, and the failing example printed
# as a @reproduce_failure blob. Elsewhere: random, with the blob too. Loaded here,
# before test modules build their own `settings(...)`, which inherit from it.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev"))


def missing_service(what: str) -> None:
    """In CI a missing service is a failure, never a silent skip."""
    if IN_CI:
        pytest.fail(f"{what} is required when CI=true")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresServer]:
    try:
        server = start_server()
    except (FileNotFoundError, OSError) as error:
        missing_service(f"PostgreSQL ({error})")
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def pg_template(pg: PostgresServer) -> str:
    name = pg.create_database()
    db = Database(pg.url(name))
    migrate.upgrade(db)
    db.dispose()
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A fresh, migrated database on the parametrized backend."""
    if backend == "sqlite":
        path = tmp_path / "deploytrace.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    pg: PostgresServer = request.getfixturevalue("pg")
    template: str = request.getfixturevalue("pg_template")
    name = pg.create_database(template=template)
    yield pg.url(name)
    pg.drop_database(name)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def api(db: Database) -> ApiHarness:
    """The API in server mode (tokens required), with an admin token of org `acme`."""
    app = create_app(Runtime(db=db, settings=Settings(), local_actor=None))
    _, token = tenancy.bootstrap(db, "acme")
    return ApiHarness(app, token=token, db=db)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI in embedded mode over a fresh $DEPLOYTRACE_HOME."""
    home = tmp_path / "home"
    monkeypatch.setenv("DEPLOYTRACE_HOME", str(home))
    for name in ("DEPLOYTRACE_SERVER", "DEPLOYTRACE_TOKEN", "DEPLOYTRACE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()
