"""Fixtures for end-to-end tests against `deploytrace server` processes on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from deploytrace.services import tenancy
from deploytrace.storage.db import Database
from tests.support.postgres import PostgresServer
from tests.support.server import ServerProcess, start_server
from tests.support.statements import statement


@dataclass
class Cluster:
    database_url: str
    token: str
    servers: list[ServerProcess]

    def attest(self, *digests: str) -> None:
        with self.client() as c:
            r = c.post("/v1/attestations", content=statement(*digests))
            assert r.status_code in (200, 201), r.text

    def client(self, i: int = 0) -> httpx.Client:
        return httpx.Client(
            base_url=self.servers[i % len(self.servers)].url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )


def bootstrap(database_url: str) -> str:
    db = Database(database_url)
    _, token = tenancy.bootstrap(db, "acme")
    db.dispose()
    return token


@pytest.fixture
def pg_database(pg: PostgresServer, pg_template: str) -> Iterator[str]:
    name = pg.create_database(template=pg_template)
    yield pg.url(name)
    pg.drop_database(name)


@pytest.fixture
def two_replicas(pg_database: str) -> Iterator[Cluster]:
    token = bootstrap(pg_database)
    servers = [start_server(pg_database) for _ in range(2)]
    cluster = Cluster(pg_database, token, servers)
    with cluster.client() as c:
        assert c.post("/v1/environments", json={"name": "k8s-east"}).status_code == 201
    yield cluster
    for server in servers:
        server.stop()
