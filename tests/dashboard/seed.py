"""The data the dashboard tests look at, put in through the HTTP API like a CI pipeline would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.digests import digest
from tests.support.statements import corpus, statement

# In tests/data/attestations/chainloop/statement.json: a Helm chart material of workflow
# "chainloop-vault-release", project "chainloop".
CHART = "sha256:7cbbda1e5ab71fef561c0f123f5f584c8e0de523d4da80379599ce7a05c04c1f"
HOSTILE = "<img src=x onerror=alert(1)>"
PAGED_RECORDS = 7
IMAGE = "CONTAINER_IMAGE"
CHART_KIND = "HELM_CHART"


@dataclass
class Seeded:
    api_v1: str  # digest of ghcr.io/acme/api v1.0.0 (superseded in k8s-east production)
    api_v2: str  # v1.1.0
    api_v3: str  # v1.2.0-rc.1
    hostile: str  # an artifact whose name and version are markup
    chart: str
    superseded_id: str
    current_id: str


def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _attest(client: httpx.Client, body: bytes, **query: str) -> None:
    _ok(client.post("/v1/attestations", content=body, params=query))


def _deploy(
    client: httpx.Client,
    env: str,
    logical: str,
    name: str,
    kind: str,
    artifact: str,
    artifact_name: str,
    version: str,
) -> dict[str, Any]:
    body = {
        "environment": env,
        "logical_environment": logical,
        "deployment_name": name,
        "kind": kind,
        "digest": artifact,
        "artifact_name": artifact_name,
        "artifact_version": version,
    }
    result: dict[str, Any] = _ok(client.post("/v1/deployments", json=body))
    return result


def seed(client: httpx.Client) -> Seeded:
    for name, description in [
        ("k8s-east", "Main cluster, us-east-1"),
        ("k8s-west", "Failover cluster"),
        ("edge", f"Edge nodes {HOSTILE}"),
        ("paging", "Many records, to page through"),
    ]:
        _ok(client.post("/v1/environments", json={"name": name, "description": description}))

    v1, v2, v3, hostile = (digest(f"dashboard-{label}") for label in ("v1", "v2", "v3", "hostile"))
    api = "ghcr.io/acme/api"
    _attest(client, corpus("chainloop/statement.json"))
    for artifact, version in [(v1, "1.0.0"), (v2, "1.1.0"), (v3, "1.2.0-rc.1")]:
        _attest(
            client,
            statement(artifact, name=api),
            workflow="api-build",
            project="acme-api",
            project_version=version,
        )
    _attest(client, statement(hostile, name=f"ghcr.io/acme/{HOSTILE}"))

    east_v1 = _deploy(client, "k8s-east", "production", "api", IMAGE, v1, api, "v1.0.0")
    east_v2 = _deploy(client, "k8s-east", "production", "api", IMAGE, v2, api, "v1.1.0")
    assert east_v2["action"] == "superseded_previous"
    _deploy(client, "k8s-east", "staging", "api", IMAGE, v3, api, "v1.2.0-rc.1")
    _deploy(client, "k8s-east", "production", "chainloop", CHART_KIND, CHART, "chainloop", "0.93.7")
    _deploy(client, "k8s-west", "production", "api", IMAGE, v1, api, "v1.0.0")
    hostile_name = f"ghcr.io/acme/{HOSTILE}"
    _deploy(
        client, "edge", "development", "widget", IMAGE, hostile, hostile_name, f"<b>{HOSTILE}</b>"
    )
    # Alternate two artifacts in one slot: each record supersedes the one before.
    for i in range(PAGED_RECORDS):
        artifact, version = (v1, "v1.0.0") if i % 2 == 0 else (v2, "v1.1.0")
        _deploy(client, "paging", "staging", "pager", IMAGE, artifact, api, version)
    return Seeded(
        api_v1=v1,
        api_v2=v2,
        api_v3=v3,
        hostile=hostile,
        chart=CHART,
        superseded_id=east_v1["id"],
        current_id=east_v2["id"],
    )
