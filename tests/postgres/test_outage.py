"""A database outage under a running server: 503 fast, then the same process serves again."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from deploytrace.storage import migrate
from deploytrace.storage.db import Database
from tests.postgres.conftest import bootstrap
from tests.support.digests import digest
from tests.support.postgres import PostgresServer
from tests.support.postgres import start_server as start_postgres
from tests.support.server import start_server
from tests.support.statements import statement

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def own_postgres(pg: PostgresServer) -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test alone, since the test stops it."""
    server = start_postgres(durable=True)
    yield server
    server.destroy()


def test_outage_answers_503_fast_and_recovers(own_postgres: PostgresServer) -> None:
    name = own_postgres.create_database()
    url = own_postgres.url(name)
    migrate.upgrade(Database(url))
    token = bootstrap(url)
    api = start_server(url)
    headers = {"Authorization": f"Bearer {token}"}
    record = {
        "environment": "k8s-east",
        "logical_environment": "production",
        "deployment_name": "api-server",
        "kind": "CONTAINER_IMAGE",
        "digest": digest(1),
    }
    try:
        with httpx.Client(base_url=api.url, headers=headers, timeout=30) as c:
            assert c.post("/v1/environments", json={"name": "k8s-east"}).status_code == 201
            assert c.post("/v1/attestations", content=statement(digest(1))).status_code == 201
            assert c.post("/v1/deployments", json=record).status_code == 201

            own_postgres.stop("immediate")
            for path in ("/v1/deployments", "/readyz"):
                started = time.monotonic()
                r = c.get(path)
                elapsed = time.monotonic() - started
                assert r.status_code == 503, (path, r.text)
                assert r.json()["error"]["code"] == "unavailable"
                assert elapsed < 5, (path, elapsed)
            assert c.get("/healthz").status_code == 200

            own_postgres.start()
            deadline = time.monotonic() + 20
            while c.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "server did not recover"
                time.sleep(0.2)
            items = c.get("/v1/deployments").json()["items"]
            assert [i["artifact"]["digest"] for i in items] == [digest(1)]
            beat = c.post("/v1/deployments", json=record)
            assert beat.status_code == 200 and beat.json()["action"] == "heartbeat"
            assert api.process.poll() is None  # the same process throughout
    finally:
        api.stop()
