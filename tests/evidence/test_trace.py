"""Tracing: from a running artifact to its attestations, workflows, projects and versions."""

from __future__ import annotations

import pytest

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from tests.support.api import ApiHarness
from tests.support.digests import digest
from tests.support.statements import corpus, statement

# ghcr.io/chainloop-dev/chainloop/artifact-cas: a CONTAINER_IMAGE material of the release
CAS_IMAGE = "sha256:757af6163c378f2f364a1d1b6f9a85cade0535b19e2fbadfd0dfb630272c0476"
RELEASE = "chainloop/wasm-policy-sdk-release-attestation.json"


@pytest.fixture
def traced(api: ApiHarness) -> ApiHarness:
    api.auto_attest = False
    api.env("k8s-east")
    api.push(corpus(RELEASE))
    return api


def test_a_recorded_release_image_traces_to_workflow_project_and_version(
    traced: ApiHarness,
) -> None:
    rec = traced.record(
        digest=CAS_IMAGE,
        deployment_name="artifact-cas",
        artifact_name="ghcr.io/chainloop-dev/chainloop/artifact-cas",
    ).json()
    described = traced.get(f"/v1/deployments/{rec['id']}").json()
    evidence = described["evidence"]
    assert evidence["workflows"] == ["release"]
    assert evidence["projects"] == ["chainloop"]
    assert evidence["project_versions"] == [{"project": "chainloop", "version": "v1.59.0+next"}]
    [att] = evidence["attestations"]
    assert att["role"] == "material" and att["material_type"] == "CONTAINER_IMAGE"
    assert att["predicate_type"] == "chainloop.dev/attestation/v0.2"
    assert att["digest"].startswith("sha256:")


def test_artifact_describe_shows_evidence_and_every_deployment(traced: ApiHarness) -> None:
    traced.env("k8s-west")
    traced.record(digest=CAS_IMAGE, deployment_name="cas")
    traced.record(digest=CAS_IMAGE, deployment_name="cas", environment="k8s-west")
    traced.record(digest=CAS_IMAGE, deployment_name="cas", status="decommissioned")
    found = traced.get(f"/v1/artifacts/{CAS_IMAGE}").json()
    assert set(found) >= {"digest", "attestations", "deployments", "workflows", "projects"}
    assert found["digest"] == CAS_IMAGE
    assert [a["role"] for a in found["attestations"]] == ["material"]
    statuses = sorted((d["environment"], d["status"]) for d in found["deployments"])
    assert statuses == [("k8s-east", "decommissioned"), ("k8s-west", "deployed")]


def test_artifact_describe_unknown_and_malformed(traced: ApiHarness) -> None:
    assert traced.get("/v1/artifacts/" + digest("nothing")).status == 404
    assert traced.get("/v1/artifacts/not-a-digest").status == 422
    assert traced.get("/v1/artifacts/sha256:abc").status == 422


def test_artifact_describe_paginates_attestations(traced: ApiHarness) -> None:
    d = digest("popular")
    for i in range(5):
        traced.push(statement(d, predicate_type=f"https://example.com/p{i}"))
    seen = []
    cursor = None
    while True:
        page = traced.get(
            f"/v1/artifacts/{d}", params={"limit": 2, "attestations_cursor": cursor}
        ).json()
        seen += [a["predicate_type"] for a in page["attestations"]]
        cursor = page["attestations_next_cursor"]
        if not cursor:
            break
    assert seen == [f"https://example.com/p{i}" for i in reversed(range(5))]


def test_deployment_list_by_project_and_version(traced: ApiHarness) -> None:
    traced.push(corpus("chainloop/statement.json"))
    helm = "sha256:7cbbda1e5ab71fef561c0f123f5f584c8e0de523d4da80379599ce7a05c04c1f"
    other = digest("plain")
    traced.push(statement(other), project="web", project_version="v2")
    traced.record(digest=CAS_IMAGE, deployment_name="cas")
    traced.record(digest=helm, kind="HELM_CHART", deployment_name="chart")
    traced.record(digest=other, deployment_name="web")

    def names(**params: object) -> list[str]:
        r = traced.get("/v1/deployments", params=params)
        assert r.status == 200, r.body
        return sorted(i["deployment_name"] for i in r.json()["items"])

    assert names(project="chainloop") == ["cas", "chart"]
    assert names(project="chainloop", project_version="v1.59.0+next") == ["cas"]
    assert names(project="web", project_version="v2") == ["web"]
    assert traced.get("/v1/deployments", params={"project": "nope"}).status == 404
    assert (
        traced.get("/v1/deployments", params={"project": "web", "project_version": "v9"}).status
        == 404
    )
    assert traced.get("/v1/deployments", params={"project_version": "v2"}).status == 422


def test_evidence_queries_are_scoped_by_org(traced: ApiHarness) -> None:
    rec = traced.record(digest=CAS_IMAGE, deployment_name="cas").json()
    _, token = tenancy.bootstrap(traced.db, "other")
    other = ApiHarness(
        create_app(Runtime(db=traced.db, settings=Settings())), token=token, db=traced.db
    )
    assert other.get("/v1/attestations").json()["items"] == []
    digest_ = traced.get("/v1/attestations").json()["items"][0]["digest"]
    assert other.get(f"/v1/attestations/{digest_}").status == 404
    assert other.get(f"/v1/attestations/{digest_}/content").status == 404
    assert other.get(f"/v1/artifacts/{CAS_IMAGE}").status == 404
    assert other.get(f"/v1/deployments/{rec['id']}").status == 404
    assert other.get("/v1/deployments", params={"project": "chainloop"}).status == 404
    assert other.get("/v1/attestations", params={"project": "chainloop"}).json()["items"] == []
    # The same bytes pushed by the other org are its own attestation.
    assert other.push(corpus(RELEASE)).status == 201


def test_the_summary_counts_owners_beyond_the_first_hundred(traced: ApiHarness) -> None:
    d = digest("widely built")
    for i in range(120):
        traced.push(
            statement(d, predicate_type=f"https://example.com/p{i}"),
            workflow=f"wf-{i % 6}",
            project=f"proj-{i % 12}",
            project_version=f"v{i}",
        )
    found = traced.get(f"/v1/artifacts/{d}").json()
    assert found["workflows"] == sorted(f"wf-{i}" for i in range(6))
    assert found["projects"] == sorted(f"proj-{i}" for i in range(12))
    assert len(found["project_versions"]) == 100  # each list is cut at 100 on its own
