"""SPEC §9 at the moment it matters: records created (not heartbeats) and snapshot
workloads are gated by the policies attached to their logical environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.policies.conftest import EXAMPLES
from tests.support.api import ApiHarness
from tests.support.cli import RECORD, CliRunner, attest
from tests.support.digests import digest
from tests.support.statements import statement

D, E = digest("no-sbom"), digest("with-sbom")
SBOM = "https://cyclonedx.org/bom"


def _add(api: ApiHarness, name: str) -> None:
    r = api.request(
        "POST",
        "/v1/policies",
        content=(EXAMPLES / name).read_bytes(),
        headers={"content-type": "application/yaml"},
    )
    assert r.status in (200, 201), r.body


def _attach(api: ApiHarness, mode: str = "enforce") -> None:
    _add(api, "sbom-present.yaml")
    r = api.post(
        "/v1/policies/sbom-present/attachments",
        {"logical_environment": "production", "mode": mode},
    )
    assert r.status in (200, 201), r.body


@pytest.fixture
def gated(api: ApiHarness) -> ApiHarness:
    api.env("k8s-east")
    api.attest(D)
    assert api.push(statement(E, predicate_type=SBOM)).status in (200, 201)
    return api


def _history(api: ApiHarness) -> list[Any]:
    return list(api.get("/v1/deployments", params={"history": True}).json()["items"])


def test_enforce_refuses_and_stores_nothing(gated: ApiHarness) -> None:
    _attach(gated)
    r = gated.record(digest=D)
    assert r.status == 422 and r.error_code == "policy_violation"
    message = r.json()["error"]["message"]
    assert "sbom-present" in message and "no CycloneDX SBOM" in message
    assert _history(gated) == []
    refused = gated.get("/v1/audit", params={"action": "deployment.refused"}).json()["items"]
    assert len(refused) == 1 and refused[0]["details"]["digest"] == D
    ok = gated.record(digest=E).json()
    assert ok["policy"] == {"status": "passed"}
    assert gated.record(digest=D, logical_environment="staging").status == 201  # not attached


def test_advisory_stores_the_violations(gated: ApiHarness) -> None:
    _attach(gated, "advisory")
    rec = gated.record(digest=D).json()
    assert rec["policy"]["status"] == "violated"
    assert rec["policy"]["violations"][0]["policy"] == "sbom-present"
    assert rec["policy"]["violations"][0]["version"] == 1
    shown = gated.get(f"/v1/deployments/{rec['id']}").json()
    assert shown["policy"] == rec["policy"]


def test_heartbeats_are_never_gated(gated: ApiHarness) -> None:
    first = gated.record(digest=D).json()
    assert first["policy"] == {"status": "none"}
    _attach(gated)
    beat = gated.record(digest=D)
    assert beat.status == 200 and beat.json()["action"] == "heartbeat"


def test_an_admin_override_is_kept_and_audited(gated: ApiHarness) -> None:
    _attach(gated)
    rec = gated.record(digest=D, override_reason="hotfix for INC-42").json()
    assert rec["policy"]["status"] == "violated"
    assert rec["policy"]["override"]["reason"] == "hotfix for INC-42"
    assert rec["policy"]["override"]["by"].startswith("bootstrap-")
    entries = gated.get("/v1/audit", params={"action": "deployment.policy_overridden"}).json()[
        "items"
    ]
    assert [e["details"]["reason"] for e in entries] == ["hotfix for INC-42"]


def test_only_admins_override(gated: ApiHarness) -> None:
    _attach(gated)
    created = gated.post("/v1/tokens", {"name": "ci", "role": "writer"}).json()
    body = {
        "environment": "k8s-east",
        "logical_environment": "production",
        "deployment_name": "api-server",
        "kind": "CONTAINER_IMAGE",
        "digest": D,
        "override_reason": "please",
    }
    r = gated.post("/v1/deployments", body, token=created["token"])
    assert r.status == 403
    assert _history(gated) == []


def test_sync_refuses_per_workload_and_applies_the_rest(gated: ApiHarness) -> None:
    gated.record(digest=E, deployment_name="was-fine")
    _attach(gated)
    r = gated.post(
        "/v1/environments/k8s-east/snapshots",
        {
            "logical_environment": "production",
            "deployments": [
                {"deployment_name": "bad", "kind": "CONTAINER_IMAGE", "digest": D},
                {"deployment_name": "good", "kind": "CONTAINER_IMAGE", "digest": E},
                {"deployment_name": "was-fine", "kind": "CONTAINER_IMAGE", "digest": D},
            ],
        },
    )
    assert r.status == 200, r.body
    out = r.json()
    assert sorted(x["deployment_name"] for x in out["refused"]) == ["bad", "was-fine"]
    assert out["refused"][0]["violations"][0]["policy"] == "sbom-present"
    assert [c["deployment_name"] for c in out["created"]] == ["good"]
    assert out["created"][0]["policy"] == {"status": "passed"}
    assert [(d["deployment_name"], d["ended_reason"]) for d in out["decommissioned"]] == [
        ("was-fine", "replaced")
    ]


def test_cli_exit_8_names_the_policy(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("environment", "create", "--name", "k8s-east").code == 0
    assert cli("policy", "add", str(EXAMPLES / "sbom-present.yaml")).code == 0
    assert cli("policy", "attach", "sbom-present", "--logical-env", "production").code == 0
    attest(cli, tmp_path, D)
    r = cli(*RECORD, "--kind", "CONTAINER_IMAGE", "--digest", D)
    assert r.code == 8, r.err
    assert r.err.startswith("error: refused by policy") and "sbom-present" in r.err
    over = cli(*RECORD, "--kind", "CONTAINER_IMAGE", "--digest", D, "--override-reason", "ok")
    assert over.code == 0, over.err
    shown = cli("deployment", "list", "-o", "json").json()
    assert shown[0]["policy"]["override"]["reason"] == "ok"
