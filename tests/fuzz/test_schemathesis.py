"""Property-based fuzzing of the live HTTP API from its own OpenAPI document.

A real `deploytrace server` process with a valid admin token: every operation gets a
bounded number of generated requests (valid and invalid), and every answer must be
a non-5xx response that conforms to the documented status codes, content types and
schemas, and leaves no traceback in that server's log. Attestation bodies, cursors,
durations and times come from the length- and range-aware strategies of
`strategies.py` (the document alone never produces an attestation or a cursor).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from tests.fuzz import strategies
from tests.support.postgres import PostgresServer
from tests.support.server import ServerProcess, start_server
from tests.support.statements import statement

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

EXAMPLES = int(os.environ.get("DEPLOYTRACE_FUZZ_EXAMPLES", "40"))
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def live(pg: PostgresServer, pg_template: str) -> Iterator[tuple[ServerProcess, str]]:
    # PostgreSQL, as in production: it refuses input SQLite takes (NUL in text).
    url = pg.url(pg.create_database(template=pg_template))
    server = start_server(url)
    _, token = tenancy.bootstrap(Database(url), "acme")
    headers = {"Authorization": f"Bearer {token}"}
    # Some data for the generated requests to run into.
    with httpx.Client(base_url=server.url, headers=headers) as c:
        c.post("/v1/environments", json={"name": "k8s-east"}).raise_for_status()
        c.post("/v1/attestations", content=statement(DIGEST)).raise_for_status()
        c.post(
            "/v1/deployments",
            json={
                "environment": "k8s-east",
                "logical_environment": "production",
                "deployment_name": "api",
                "kind": "CONTAINER_IMAGE",
                "digest": DIGEST,
            },
        ).raise_for_status()
    yield server, token
    server.stop()


def _document() -> dict[str, object]:
    """The OpenAPI document, built like the server builds it (checked equal below)."""
    app = create_app(Runtime(db=Database("sqlite://"), settings=Settings()))
    return app.openapi()


for _name, _strategy in strategies.FORMATS.items():
    schemathesis.openapi.format(_name, _strategy)
# The push's raw body types (only that operation has them).
for _media_type in ("application/x-ndjson", "application/octet-stream"):
    schemathesis.openapi.media_type(_media_type, strategies.attestation_files())
schema = schemathesis.openapi.from_dict(strategies.annotate(_document()))


def test_the_live_document_is_the_one_fuzzed(live: tuple[ServerProcess, str]) -> None:
    server, _ = live
    assert httpx.get(f"{server.url}/openapi.json").json() == _document()


CHECKS = [
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_5xx_and_answers_conform(
    case: schemathesis.Case, live: tuple[ServerProcess, str]
) -> None:
    server, token = live
    # Every xdist worker fuzzes its own server: each case checks what it logged.
    seen = server.log.stat().st_size
    response = case.call(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, (response.status_code, response.text[:500])
    case.validate_response(response, checks=CHECKS)
    with server.log.open("rb") as log:
        log.seek(seen)
        logged = log.read().decode(errors="replace")
    assert "Traceback" not in logged, logged[-3000:]


def test_the_server_log_has_no_tracebacks(live: tuple[ServerProcess, str]) -> None:
    server, _ = live
    log = Path(server.log).read_text()
    assert "Traceback" not in log, log[-3000:]
