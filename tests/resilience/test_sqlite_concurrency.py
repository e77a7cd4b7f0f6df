"""Many writers on one SQLite file, and identical pushes racing on both backends.

Embedded CLI processes and a server process record into the same slot of the
same SQLite file at once: every call must succeed (SQLite's write lock and
busy_timeout queue them), exactly one record stays deployed, and the history is
one unbroken supersede chain that accounts for every call.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import audit, tenancy
from deploytrace.services.context import Actor, Role
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from tests.support.api import ApiHarness
from tests.support.digests import digest
from tests.support.server import start_server
from tests.support.statements import statement

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).parent / "deploytrace"
DIGESTS = [digest(f"race-{i}") for i in range(3)]
CLI_WORKERS, CLI_CALLS = 4, 4
HTTP_WORKERS, HTTP_CALLS = 2, 8
SLOT = {
    "environment": "k8s-east",
    "logical_environment": "production",
    "deployment_name": "api-server",
    "kind": "CONTAINER_IMAGE",
}


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYTRACE_")}
    return subprocess.run(
        [str(SCRIPT), *args],
        env={**env, "DEPLOYTRACE_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_embedded_cli_processes_and_a_server_share_one_sqlite_slot(tmp_path: Path) -> None:
    home = tmp_path / "home"
    attestation = tmp_path / "statement.json"
    attestation.write_bytes(statement(*DIGESTS))
    for args in (
        ("environment", "create", "--name", "k8s-east"),
        ("attestation", "push", str(attestation)),
    ):
        done = _cli(home, *args)
        assert done.returncode == 0, done.stderr
    url = f"sqlite:///{home / 'deploytrace.db'}"
    db = Database(url)
    _, token = tenancy.bootstrap(db, tenancy.DEFAULT_ORG)  # the embedded user's org
    server = start_server(url)
    start = threading.Barrier(CLI_WORKERS + HTTP_WORKERS)

    def cli_worker(n: int) -> list[subprocess.CompletedProcess[str]]:
        start.wait()
        return [
            _cli(
                home,
                "deployment",
                "record",
                "--env",
                "k8s-east",
                "--logical-env",
                "production",
                "--deployment-name",
                "api-server",
                "--kind",
                "CONTAINER_IMAGE",
                "--digest",
                DIGESTS[(n + i) % len(DIGESTS)],
                "-o",
                "json",
            )
            for i in range(CLI_CALLS)
        ]

    def http_worker(n: int) -> list[httpx.Response]:
        start.wait()
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as client:
            return [
                client.post(
                    "/v1/deployments", json={**SLOT, "digest": DIGESTS[(n + i + 1) % len(DIGESTS)]}
                )
                for i in range(HTTP_CALLS)
            ]

    try:
        with ThreadPoolExecutor(CLI_WORKERS + HTTP_WORKERS) as pool:
            cli_runs = [pool.submit(cli_worker, n) for n in range(CLI_WORKERS)]
            http_runs = [pool.submit(http_worker, n) for n in range(HTTP_WORKERS)]
            cli_results = [r for f in cli_runs for r in f.result()]
            http_results = [r for f in http_runs for r in f.result()]
    finally:
        server.stop()

    for result in cli_results:
        assert result.returncode == 0, result.stderr
    for response in http_results:
        assert response.status_code in (200, 201), response.text
    calls = len(cli_results) + len(http_results)
    assert calls == CLI_WORKERS * CLI_CALLS + HTTP_WORKERS * HTTP_CALLS

    with db.read() as conn:
        rows = list(conn.execute(text("SELECT * FROM deployment_records ORDER BY seq")))
    active = [r for r in rows if r.status == "deployed"]
    assert len(active) == 1
    # Every call made a record or counted a heartbeat on one.
    assert len(rows) + sum(r.heartbeats for r in rows) == calls
    # One chain: from the first record, each supersede pointer leads to the next,
    # ending at the active one.
    by_id = {r.id: r for r in rows}
    chain = [rows[0].id]
    while by_id[chain[-1]].superseded_by is not None:
        chain.append(by_id[chain[-1]].superseded_by)
    assert chain == [r.id for r in rows]
    assert chain[-1] == active[0].id
    assert all(r.ended_at is not None for r in rows if r.status == "superseded")
    org = tenancy.ensure_org(db, tenancy.DEFAULT_ORG)
    actor = Actor(org_id=org.id, org_name=org.name, name="check", role=Role.VIEWER)
    assert audit.verify(db, actor, full=True).intact
    db.dispose()


@pytest.mark.parametrize("writers", [8])
def test_identical_pushes_at_once_store_one_attestation(db: Database, writers: int) -> None:
    app = create_app(Runtime(db=db, settings=Settings()))
    _, token = tenancy.bootstrap(db, "acme")
    harness = ApiHarness(app, token=token, db=db)
    data = statement(digest("pushed-at-once"))
    barrier = threading.Barrier(writers)

    def push(_: int) -> Any:
        barrier.wait()
        return harness.push(data)

    with ThreadPoolExecutor(writers) as pool:
        replies = list(pool.map(push, range(writers)))
    statuses = Counter(r.status for r in replies)
    assert set(statuses) <= {200, 201}, [r.body[:200] for r in replies]
    assert statuses[201] == 1
    assert len({r.json()["items"][0]["digest"] for r in replies}) == 1
    with db.read() as conn:
        stored = conn.execute(text("SELECT count(*) FROM attestations")).scalar()
        pushed = conn.execute(
            text("SELECT count(*) FROM audit_entries WHERE action = 'attestation.pushed'")
        ).scalar()
    assert stored == 1
    assert pushed == 1
