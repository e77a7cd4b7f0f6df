"""`deploytrace server --database-read-url` as a real process, and the CLI's client against it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from deploytrace.cli.client import ApiClient
from deploytrace.cli.http import HttpTransport
from deploytrace.services import tenancy
from deploytrace.storage.db import Database
from tests.replica.conftest import PRIMARY, READ, Cluster
from tests.support.digests import digest
from tests.support.postgres import free_port
from tests.support.server import ServerProcess
from tests.support.statements import statement

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@dataclass
class Served:
    server: ServerProcess
    token: str
    name: str
    cluster: Cluster

    def client(self) -> ApiClient:
        """A new client, as one CLI command makes."""
        return ApiClient(HttpTransport(self.server.url, self.token, 30))

    def served_by(self, mark: tuple[int, int]) -> set[str]:
        found = set()
        primary, standby = mark
        if any(
            "deployment_records" in s
            for s in self.cluster.primary.statements(primary, PRIMARY, self.name)
        ):
            found.add("primary")
        if any(
            "deployment_records" in s
            for s in self.cluster.standby.statements(standby, READ, self.name)
        ):
            found.add("replica")
        return found

    def mark(self) -> tuple[int, int]:
        return self.cluster.primary.log_size(), self.cluster.standby.log_size()


@pytest.fixture
def served(cluster: Cluster) -> Iterator[Served]:
    name = cluster.primary.create_database(template=cluster.template)
    db = Database(cluster.primary.url(name))
    _, token = tenancy.bootstrap(db, "acme")
    db.dispose()
    cluster.wait_caught_up()
    workdir = Path(tempfile.mkdtemp(prefix="dt-server-"))
    log = workdir / "server.log"
    port = free_port()
    environ = {**os.environ, "DEPLOYTRACE_READ_MAX_LAG": "60"}
    environ.pop("DEPLOYTRACE_SERVER", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deploytrace",
            "server",
            "--port",
            str(port),
            "--database-url",
            cluster.primary.url(name),
            "--database-read-url",
            cluster.standby.url(name),
            "--log-level",
            "warning",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=environ,
    )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        server.wait_ready()
        yield Served(server, token, name, cluster)
    finally:
        server.stop()
        if cluster.paused:
            cluster.resume()
        cluster.primary.drop_database(name)


def test_one_cli_command_reads_its_own_writes(served: Served) -> None:
    setup = served.client()
    setup.call("POST", "/v1/environments", json_body={"name": "k8s-east"})
    served.cluster.wait_caught_up()
    deadline = time.monotonic() + 30
    while True:
        ready = httpx.get(f"{served.server.url}/readyz", timeout=10)
        assert ready.status_code == 200
        if ready.json()["replica"]["status"] == "ok":
            break
        assert time.monotonic() < deadline, ready.text
        time.sleep(0.1)
    assert ready.json() == {
        "status": "ok",
        "database": {"status": "ok"},
        "replica": {"status": "ok", "lag_seconds": 0.0, "max_lag_seconds": 60.0},
    }

    served.cluster.pause()
    command = served.client()
    command.call("POST", "/v1/attestations", content=statement(digest(1)))
    made = command.call(
        "POST",
        "/v1/deployments",
        json_body={
            "environment": "k8s-east",
            "logical_environment": "production",
            "deployment_name": "api-server",
            "kind": "CONTAINER_IMAGE",
            "digest": digest(1),
        },
    )
    mark = served.mark()
    listed = command.pages("/v1/deployments", {})
    assert [item["id"] for item in listed] == [made["id"]]
    assert served.served_by(mark) == {"primary"}

    # Another command, which wrote nothing, reads from the replica: it has not
    # replayed the record yet, and is well within the 60 s limit.
    mark = served.mark()
    assert served.client().pages("/v1/deployments", {}) == []
    assert served.served_by(mark) == {"replica"}

    served.cluster.resume()
    served.cluster.wait_caught_up()
    assert [item["id"] for item in served.client().pages("/v1/deployments", {})] == [made["id"]]
