"""The rule: only artifacts attested with a compatible kind are recorded as deployed."""

from __future__ import annotations

import pytest

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from tests.support.api import ApiHarness
from tests.support.cli import RECORD, CliRunner
from tests.support.digests import digest
from tests.support.statements import corpus, statement

HELM = "sha256:7cbbda1e5ab71fef561c0f123f5f584c8e0de523d4da80379599ce7a05c04c1f"
CONTROL_PLANE = "sha256:4a8eb6f9ae76460b682e7e9eb5504df9f7f2b2250d9c5cb63204442e265e2c5a"


@pytest.fixture
def gated(api: ApiHarness) -> ApiHarness:
    api.auto_attest = False
    api.env("k8s-east")
    return api


def _history(api: ApiHarness) -> list[object]:
    return list(api.get("/v1/deployments", params={"history": True}).json()["items"])


def test_unattested_digest_is_refused(gated: ApiHarness) -> None:
    r = gated.record(digest=digest("nobody attested me"))
    assert r.status == 404
    assert "not attested" in r.json()["error"]["message"]
    assert _history(gated) == []


def test_subject_of_a_statement_attests_either_kind(gated: ApiHarness) -> None:
    d = digest("image")
    gated.push(statement(d))
    assert gated.record(digest=d).status == 201
    assert gated.record(digest=d, kind="HELM_CHART", deployment_name="chart").status == 201


def test_typed_materials_attest_their_own_kind_only(gated: ApiHarness) -> None:
    gated.push(corpus("chainloop/statement.json"))
    assert gated.record(digest=HELM, kind="HELM_CHART").status == 201
    assert gated.record(digest=CONTROL_PLANE, deployment_name="control-plane").status == 201
    wrong = gated.record(digest=HELM, kind="CONTAINER_IMAGE", deployment_name="x")
    assert wrong.status == 404
    assert "attested as HELM_CHART" in wrong.json()["error"]["message"]
    wrong = gated.record(digest=CONTROL_PLANE, kind="HELM_CHART", deployment_name="y")
    assert wrong.status == 404


def test_other_material_types_do_not_attest_images(gated: ApiHarness) -> None:
    sbom = digest("sbom")
    gated.push(statement(digest("x"), materials=[(sbom, "SBOM_CYCLONEDX_JSON")], metadata={}))
    r = gated.record(digest=sbom)
    assert r.status == 404
    assert "SBOM_CYCLONEDX_JSON" in r.json()["error"]["message"]


def test_a_base_image_is_not_attested_by_being_used(gated: ApiHarness) -> None:
    # BuildKit provenance: golang:1.21 was a build input of the image, not its subject.
    gated.push(
        corpus("slsa-verifier/container_workflow_dispatch.buildkit-provenance.sha256-c1944d47.json")
    )
    golang = "sha256:c82d4ad02c062cf2b393bf0374df26638c6fed3dfe52cdbd3635d4a7befab86e"
    r = gated.record(digest=golang)
    assert r.status == 404
    assert "build input" in r.json()["error"]["message"]
    built = "sha256:ae01bed04d3f41efa80182824a50345cd1430f4d1a9308eda4369122bd94c85e"
    assert gated.record(digest=built, deployment_name="built").status == 201


def test_attestations_of_another_org_do_not_count(gated: ApiHarness) -> None:
    _, other_token = tenancy.bootstrap(gated.db, "other")
    other = ApiHarness(
        create_app(Runtime(db=gated.db, settings=Settings())), token=other_token, db=gated.db
    )
    d = digest("theirs")
    assert other.push(statement(d)).status == 201
    assert gated.record(digest=d).status == 404


def test_heartbeat_and_decommission_need_no_new_evidence(gated: ApiHarness) -> None:
    d = digest("ok")
    gated.push(statement(d))
    assert gated.record(digest=d).status == 201
    assert gated.record(digest=d).json()["action"] == "heartbeat"
    assert gated.record(digest=d, status="decommissioned").json()["action"] == "decommissioned"


def test_no_evidence_and_unknown_environment_have_their_own_codes(gated: ApiHarness) -> None:
    unattested = gated.record(digest=digest("nobody attested me"))
    assert (unattested.status, unattested.error_code) == (404, "not_attested")
    d = digest("attested")
    gated.push(statement(d))
    no_env = gated.record(digest=d, environment="k8s-nowhere")
    assert (no_env.status, no_env.error_code) == (404, "not_found")


def test_the_cli_rebuilds_not_attested_and_exits_3(cli: CliRunner) -> None:
    from deploytrace import errors

    assert isinstance(errors.from_code("not_attested", "m"), errors.NotAttested)
    assert cli("environment", "create", "--name", "k8s-east").code == 0
    r = cli(*RECORD, "--kind", "CONTAINER_IMAGE", "--digest", digest("unattested"))
    assert r.code == 3
    assert r.err.startswith("error: artifact sha256:") and "not attested" in r.err


def test_a_digest_record_takes_its_name_from_the_attestation(gated: ApiHarness) -> None:
    d = digest("named by its subject")
    gated.push(statement(d, name="ghcr.io/acme/payments"))
    rec = gated.record(digest=d).json()
    assert rec["artifact"]["name"] == "ghcr.io/acme/payments"
    given = gated.record(digest=d, deployment_name="other", artifact_name="mine").json()
    assert given["artifact"]["name"] == "mine"  # a name given wins
