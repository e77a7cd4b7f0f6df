"""CLI start-up: a command imports what it uses and nothing of what it does not.

Start-up time is measured in bench/embedded_cli.py; these tests keep the design that
makes it short: the client mode loads nothing of the server, and the embedded mode
builds only the routers a command calls (the same routers, middleware and handlers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from deploytrace.api.app import ROUTERS, create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from deploytrace.storage import migrate
from deploytrace.storage.db import Database
from tests.cli_ux.test_http_transport import Seen, _serve
from tests.support.cli import CliRunner, attest
from tests.support.digests import digest

DIGEST = digest("startup")
RECORD = [
    "deployment",
    "record",
    "--env",
    "k8s-east",
    "--logical-env",
    "production",
    "--deployment-name",
    "api",
    "--kind",
    "CONTAINER_IMAGE",
    "--digest",
    DIGEST,
]
# Run one command in a fresh interpreter; print the modules it imported.
PROBE = """
import json, sys
from deploytrace.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

NEVER_IN_A_HEARTBEAT = (
    "deploytrace.api.search",
    "deploytrace.api.webhooks",
    "deploytrace.api.insight",
    "deploytrace.api.tenancy",
    "deploytrace.dashboard",
    "deploytrace.services.attestations",  # pushing and verifying: not a heartbeat's business
    "deploytrace.policies.document",  # no policy attached: the Rego engine is not loaded
    "deploytrace.policies.sandbox",
    "yaml",
    "httpx",
    "sigstore",
    "regopy",
    "lightkube",
    "prometheus_client",
    "univers",
    "cyclonedx",
)
NEVER_IN_CLIENT_MODE = (
    "fastapi",
    "starlette",
    "pydantic",
    "sqlalchemy",
    "httpx",
    "deploytrace.api",
    "deploytrace.services",
    "deploytrace.storage",
    "deploytrace.policies",
)


def _probe(args: list[str], env: dict[str, str]) -> tuple[int, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        check=False,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


def test_an_embedded_heartbeat_imports_only_the_deployments_router(
    cli: CliRunner, tmp_path: Path
) -> None:
    assert cli("environment", "create", "--name", "k8s-east").code == 0
    attest(cli, tmp_path, DIGEST)
    assert cli(*RECORD).code == 0
    home = os.environ["DEPLOYTRACE_HOME"]  # the `cli` fixture's embedded store
    code, modules = _probe(RECORD, {"DEPLOYTRACE_HOME": home})
    assert code in (0, None)
    assert _loaded(modules, NEVER_IN_A_HEARTBEAT) == []
    assert "deploytrace.api.deployments" in modules


@pytest.fixture
def stub_server() -> Iterator[str]:
    yield from _serve(Seen())


def test_client_mode_imports_nothing_of_the_server(stub_server: str, tmp_path: Path) -> None:
    env = {
        "DEPLOYTRACE_SERVER": stub_server,
        "DEPLOYTRACE_TOKEN": "dt_" + "0" * 32 + "_" + "A" * 43,
        "DEPLOYTRACE_HOME": str(tmp_path),
    }
    code, modules = _probe(["environment", "list", "-o", "json"], env)
    assert code in (0, None)
    assert _loaded(modules, NEVER_IN_CLIENT_MODE) == []


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(home=tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'lazy.db'}", settings)
    migrate.ensure_current(db)
    yield Runtime(db=db, settings=settings, local_actor=tenancy.local_actor(db))
    db.dispose()


def _paths(app: FastAPI) -> list[tuple[str, list[str]]]:
    """The API's operations in the order they are matched, from the OpenAPI document."""
    app.openapi_schema = None
    return [(path, sorted(ops)) for path, ops in app.openapi()["paths"].items()]


def test_a_lazy_app_builds_the_same_routes_as_the_server_in_the_same_order(
    runtime: Runtime,
) -> None:
    full = create_app(runtime)
    lazy = create_app(runtime, lazy=True)
    with TestClient(lazy) as client:
        assert _paths(lazy) == []  # nothing before the first request
        assert client.get("/v1/deployments").status_code == 200
        assert [p for p, _ in _paths(lazy)] == ["/v1/deployments", "/v1/deployments/{record_id}"]
        # Components are the search router's, matched before the artifacts router's
        # /v1/artifacts/{digest}: the same answer as the server's.
        path = f"/v1/artifacts/{DIGEST}/components"
        assert client.get(path).json() == TestClient(full).get(path).json()
        assert client.get("/v1/no-such-thing").status_code == 404  # loads everything
    assert sorted(_paths(lazy)) == sorted(_paths(full))
    artifacts = [p for p, _ in _paths(lazy) if p.startswith("/v1/artifacts")]
    assert artifacts == [p for p, _ in _paths(full) if p.startswith("/v1/artifacts")]
    served = {segment for _m, _a, segments in ROUTERS for segment in segments}
    first = {p.strip("/").split("/")[1] if p.startswith("/v1/") else p[1:] for p, _ in _paths(full)}
    assert first == served
