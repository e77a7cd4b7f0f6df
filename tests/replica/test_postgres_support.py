"""The throwaway PostgreSQL of the tests survives a port taken between pick and start."""

from __future__ import annotations

import socket

import psycopg
import pytest

from tests.conftest import missing_service
from tests.support.postgres import PostgresServer, find_bin

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_a_port_taken_before_start_is_given_up_for_a_free_one() -> None:
    bindir = find_bin()
    if bindir is None:
        missing_service("PostgreSQL server binaries (pg_ctl)")
        return
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        server = PostgresServer(bindir)
        server.port = port  # as if another worker bound it after free_port() picked it
        try:
            server.init()
            server.start()
            assert server.port != port
            with psycopg.connect(server.dsn("postgres")) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            server.destroy()
