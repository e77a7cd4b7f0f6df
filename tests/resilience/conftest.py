"""Fixtures of the resilience tests: a durable PostgreSQL of one test alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import PostgresServer
from tests.support.postgres import start_server as start_postgres


@pytest.fixture
def durable_pg(pg: PostgresServer) -> Iterator[PostgresServer]:
    """A PostgreSQL with fsync and synchronous commit on, owned by one test (it may crash it).

    Depending on `pg` gives the suite's rule for a missing PostgreSQL: skip locally, fail
    when CI=true.
    """
    server = start_postgres(durable=True)
    yield server
    server.destroy()
