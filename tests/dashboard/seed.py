"""The data the dashboard tests look at, put in through the HTTP API like CI pipelines and
reporters would: a history spread over ten days (backdated with `observed_at`), with a
promotion through staging, a rollback, a stale environment, workloads running without
evidence, a skipped stage, a custom promotion order and policy verdicts."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.digests import digest
from tests.support.statements import corpus, statement

# In tests/data/attestations/chainloop/statement.json: a Helm chart material of workflow
# "chainloop-vault-release", project "chainloop".
CHART = "sha256:7cbbda1e5ab71fef561c0f123f5f584c8e0de523d4da80379599ce7a05c04c1f"
# The subject of tests/data/attestations/trivy/sigstore-bundle.json: a CycloneDX SBOM
# attestation signed through Sigstore's public-good instance (verifies offline).
SBOM_DEMO = "sha256:ea9c657ca44371fadd027510f2a1a68b799003294bf6a4827827971cc4390ad4"
HOSTILE = "<img src=x onerror=alert(1)>"
PAGED_RECORDS = 7
IMAGE = "CONTAINER_IMAGE"
CHART_KIND = "HELM_CHART"
POLICY = Path(__file__).resolve().parents[2] / "examples" / "policies" / "sbom-present.yaml"


@dataclass
class Seeded:
    now: dt.datetime
    api_v1: str  # digest of ghcr.io/acme/api v1.0.0 (superseded in k8s-east production)
    api_v2: str  # v1.1.0
    api_v3: str  # v1.2.0-rc.1
    hostile: str  # an artifact whose name and version are markup
    chart: str
    unattested: str  # runs in k8s-east production (payments) with no attestation
    checkout_v1: str  # 3.0.0: its SBOM lists log4j-core 2.14.1 (CVE-2021-44228)
    superseded_id: str
    current_id: str
    qa_id: str  # api v1.2.0-rc.1 in k8s-east qa: advisory policy violated
    override_id: str  # api v1.1.0 in k8s-east sandbox: recorded over an enforce policy

    def days_ago(self, days: float) -> dt.datetime:
        return self.now - dt.timedelta(days=days)


def _provenance(artifact: str, name: str, finished: dt.datetime) -> bytes:
    """SLSA v1 provenance whose build finished at `finished` (DORA's lead time starts there)."""
    algorithm, value = artifact.split(":")
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": name, "digest": {algorithm: value}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {
                "buildDefinition": {"buildType": "https://example.com/dashboard-tests/v1"},
                "runDetails": {
                    "builder": {"id": "https://example.com/builder"},
                    "metadata": {"finishedOn": finished.strftime("%Y-%m-%dT%H:%M:%SZ")},
                },
            },
        }
    ).encode()


def _vulnerable_sbom(artifact: str, name: str) -> bytes:
    """A CycloneDX SBOM (written for these tests) listing log4j-core 2.14.1, with the
    log4shell finding in its `vulnerabilities`."""
    algorithm, value = artifact.split(":")
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "components": [
            {
                "type": "library",
                "bom-ref": "log4j-core",
                "group": "org.apache.logging.log4j",
                "name": "log4j-core",
                "version": "2.14.1",
                "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            }
        ],
        "vulnerabilities": [
            {
                "id": "CVE-2021-44228",
                "ratings": [{"severity": "critical"}],
                "affects": [{"ref": "log4j-core"}],
            }
        ],
    }
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": name, "digest": {algorithm: value}}],
            "predicateType": "https://cyclonedx.org/bom",
            "predicate": bom,
        }
    ).encode()


def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _attest(client: httpx.Client, body: bytes, **query: str) -> None:
    _ok(client.post("/v1/attestations", content=body, params=query))


def _z(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Recorder:
    def __init__(self, client: httpx.Client, now: dt.datetime) -> None:
        self.client = client
        self.now = now

    def deploy(
        self,
        env: str,
        logical: str,
        name: str,
        artifact: str,
        artifact_name: str,
        version: str,
        *,
        kind: str = IMAGE,
        days_ago: float | None = None,
        ci: dict[str, Any] | None = None,
        override_reason: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "environment": env,
            "logical_environment": logical,
            "deployment_name": name,
            "kind": kind,
            "digest": artifact,
            "artifact_name": artifact_name,
            "artifact_version": version,
        }
        if days_ago is not None:
            body["observed_at"] = _z(self.now - dt.timedelta(days=days_ago))
        if ci is not None:
            body["ci"] = ci
        if override_reason is not None:
            body["override_reason"] = override_reason
        result: dict[str, Any] = _ok(self.client.post("/v1/deployments", json=body))
        return result


def _github(run: int, sha: str) -> dict[str, Any]:
    return {
        "provider": "github",
        "run_url": f"https://github.com/acme/api/actions/runs/{run}",
        "commit": sha,
        "ref": "refs/heads/main",
        "actor": "octocat",
        "workflow": "release",
    }


def seed(client: httpx.Client) -> Seeded:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for name, description in [
        ("k8s-east", "Main cluster, us-east-1"),
        ("k8s-west", "Failover cluster"),
        ("edge", f"Edge nodes {HOSTILE}"),
        ("paging", "Many records, to page through"),
    ]:
        _ok(client.post("/v1/environments", json={"name": name, "description": description}))
    _ok(client.patch("/v1/environments/k8s-west", json={"stale_after": "24h"}))

    v1, v2, v3, hostile = (digest(f"dashboard-{label}") for label in ("v1", "v2", "v3", "hostile"))
    c1, c2, unattested = (digest(f"dashboard-{label}") for label in ("c1", "c2", "unattested"))
    api = "ghcr.io/acme/api"
    checkout = "ghcr.io/acme/checkout"
    _attest(client, corpus("chainloop/statement.json"))
    _attest(client, corpus("trivy/sigstore-bundle.json"))
    # Each build finished half a day before its first deployment.
    for artifact, version, built in [
        (v1, "1.0.0", 11),
        (v2, "1.1.0", 7),
        (v3, "1.2.0-rc.1", 3),
    ]:
        _attest(
            client,
            _provenance(artifact, api, now - dt.timedelta(days=built)),
            workflow="api-build",
            project="acme-api",
            project_version=version,
        )
    for artifact, version, built in [(c1, "3.0.0", 8.5), (c2, "3.1.0", 4.5)]:
        _attest(
            client,
            _provenance(artifact, checkout, now - dt.timedelta(days=built)),
            workflow="checkout-build",
            project="acme-checkout",
            project_version=version,
        )
    _attest(client, _vulnerable_sbom(c1, checkout), workflow="checkout-build")
    _attest(client, statement(hostile, name=f"ghcr.io/acme/{HOSTILE}"))

    rec = Recorder(client, now)
    # api: through development and staging into production, one release after the other.
    rec.deploy("k8s-east", "development", "api", v1, api, "v1.0.0", days_ago=10.5)
    rec.deploy("k8s-east", "staging", "api", v1, api, "v1.0.0", days_ago=10)
    east_v1 = rec.deploy(
        "k8s-east", "production", "api", v1, api, "v1.0.0", days_ago=9, ci=_github(4141, "a" * 40)
    )
    rec.deploy("k8s-east", "development", "api", v2, api, "v1.1.0", days_ago=6.5)
    rec.deploy("k8s-east", "staging", "api", v2, api, "v1.1.0", days_ago=6)
    east_v2 = rec.deploy(
        "k8s-east", "production", "api", v2, api, "v1.1.0", days_ago=5, ci=_github(4242, "b" * 40)
    )
    assert east_v2["action"] == "superseded_previous"
    rec.deploy("k8s-east", "development", "api", v3, api, "v1.2.0-rc.1", days_ago=2.5)
    rec.deploy("k8s-east", "staging", "api", v3, api, "v1.2.0-rc.1", days_ago=2)
    # checkout: 3.1.0 reached production and was rolled back six hours later (a failure).
    rec.deploy("k8s-east", "staging", "checkout", c1, checkout, "3.0.0", days_ago=8)
    rec.deploy("k8s-east", "production", "checkout", c1, checkout, "3.0.0", days_ago=7)
    rec.deploy("k8s-east", "staging", "checkout", c2, checkout, "3.1.0", days_ago=4)
    rec.deploy("k8s-east", "production", "checkout", c2, checkout, "3.1.0", days_ago=3.5)
    rec.deploy("k8s-east", "production", "checkout", c1, checkout, "3.0.0", days_ago=3.25)
    # The failover cluster's reporter stopped three days ago: stale after 24h.
    rec.deploy("k8s-west", "production", "api", v1, api, "v1.0.0", days_ago=3)
    # A chart straight into production: it skipped staging.
    rec.deploy("k8s-east", "production", "chainloop", CHART, "chainloop", "0.93.7", kind=CHART_KIND)
    rec.deploy("k8s-east", "staging", "sbom-demo", SBOM_DEMO, "ghcr.io/ringodev/demo-sbom", "1.0")
    hostile_name = f"ghcr.io/acme/{HOSTILE}"
    rec.deploy("edge", "development", "widget", hostile, hostile_name, f"<b>{HOSTILE}</b>")
    # Alternate two artifacts in one slot: each record supersedes the one before.
    for i in range(PAGED_RECORDS):
        artifact, version = (v1, "v1.0.0") if i % 2 == 0 else (v2, "v1.1.0")
        rec.deploy("paging", "staging", "pager", artifact, api, version)

    # A reporter sees what runs in production; payments has no evidence at all.
    _ok(
        client.post(
            "/v1/environments/k8s-east/snapshots",
            json={
                "logical_environment": "production",
                "scope": "ns:shop",
                "deployments": [
                    {
                        "deployment_name": "payments",
                        "digest": unattested,
                        "artifact_name": "ghcr.io/acme/payments",
                        "artifact_version": "2.0.0",
                    }
                ],
            },
        )
    )

    # A custom stage in the promotion order (qa, after staging), and one outside it.
    _ok(client.post("/v1/logical-environments", json={"name": "qa", "after": "staging"}))
    _ok(client.post("/v1/logical-environments", json={"name": "sandbox"}))
    _ok(
        client.post(
            "/v1/policies", content=POLICY.read_bytes(), headers={"Content-Type": "text/plain"}
        )
    )
    _ok(
        client.post(
            "/v1/policies/sbom-present/attachments",
            json={"logical_environment": "qa", "mode": "advisory"},
        )
    )
    _ok(
        client.post(
            "/v1/policies/sbom-present/attachments",
            json={"logical_environment": "sandbox", "mode": "enforce"},
        )
    )
    qa = rec.deploy("k8s-east", "qa", "api", v3, api, "v1.2.0-rc.1")
    assert qa["policy"]["status"] == "violated", qa
    rec.deploy("k8s-east", "qa", "sbom-demo", SBOM_DEMO, "ghcr.io/ringodev/demo-sbom", "1.0")
    override = rec.deploy(
        "k8s-east", "sandbox", "api", v2, api, "v1.1.0", override_reason="load test, no SBOM yet"
    )
    assert override["policy"].get("override"), override
    return Seeded(
        now=now,
        api_v1=v1,
        api_v2=v2,
        api_v3=v3,
        hostile=hostile,
        chart=CHART,
        unattested=unattested,
        checkout_v1=c1,
        superseded_id=east_v1["id"],
        current_id=east_v2["id"],
        qa_id=qa["id"],
        override_id=override["id"],
    )
