"""SPEC §7 snapshot sync: the records of a scope are made to match what runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.support.api import ApiHarness
from tests.support.digests import digest

A, B, C, X = digest("A"), digest("B"), digest("C"), digest("unattested")


def ago(hours: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).isoformat()


def w(name: str, d: str | None, **extra: Any) -> dict[str, Any]:
    return {"deployment_name": name, "kind": "CONTAINER_IMAGE", "digest": d, **extra}


@pytest.fixture
def space(api: ApiHarness) -> ApiHarness:
    api.env("k8s-east")
    api.attest(A, B, C)
    return api


def sync(api: ApiHarness, *workloads: dict[str, Any], status: int = 200, **body: Any) -> Any:
    r = api.post(
        "/v1/environments/k8s-east/snapshots",
        {"logical_environment": "production", "deployments": list(workloads), **body},
    )
    assert r.status == status, r.body
    return r.json()


def active(api: ApiHarness) -> dict[str, str]:
    items = api.get("/v1/deployments").json()["items"]
    return {i["deployment_name"]: i["artifact"]["digest"] for i in items}


def test_first_sync_creates_what_runs(space: ApiHarness) -> None:
    out = sync(
        space, w("api", A, artifact_name="ghcr.io/acme/api", artifact_version="1.0"), w("web", B)
    )
    assert [r["deployment_name"] for r in out["created"]] == ["api", "web"]
    assert out["created"][0]["artifact"] == {
        "digest": A,
        "name": "ghcr.io/acme/api",
        "version": "1.0",
    }
    assert out["created"][0]["scope"] == "default"
    assert out["heartbeats"] == 0 and out["superseded"] == out["decommissioned"] == []
    assert out["snapshot"]["scope"] == "default" and out["snapshot"]["workloads"] == 2
    assert active(space) == {"api": A, "web": B}


def test_repeat_is_idempotent(space: ApiHarness) -> None:
    sync(space, w("api", A), w("web", B))
    history = space.get("/v1/deployments", params={"history": True}).json()["items"]
    out = sync(space, w("api", A), w("web", B))
    assert out["heartbeats"] == 2
    assert out["created"] == out["superseded"] == out["decommissioned"] == []
    again = space.get("/v1/deployments", params={"history": True}).json()["items"]
    assert [i["id"] for i in again] == [i["id"] for i in history]
    assert all(i["heartbeats"] == 1 for i in again)


def test_changed_digest_supersedes_and_missing_is_absent(space: ApiHarness) -> None:
    sync(space, w("api", A), w("web", B))
    out = sync(space, w("api", C))
    assert [r["artifact"]["digest"] for r in out["created"]] == [C]
    assert [(r["artifact"]["digest"], r["ended_reason"]) for r in out["superseded"]] == [
        (A, "superseded")
    ]
    assert out["superseded"][0]["superseded_by"] == out["created"][0]["id"]
    gone = out["decommissioned"]
    assert [(r["deployment_name"], r["status"], r["ended_reason"]) for r in gone] == [
        ("web", "decommissioned", "absent")
    ]
    assert active(space) == {"api": C}
    stored = space.get(f"/v1/deployments/{gone[0]['id']}").json()
    assert stored["ended_reason"] == "absent" and stored["status"] == "decommissioned"


def test_unattested_workloads_are_kept_not_recorded(space: ApiHarness) -> None:
    out = sync(space, w("api", A), w("shadow", X, artifact_name="evil/miner"), w("local", None))
    assert [r["deployment_name"] for r in out["created"]] == ["api"]
    reasons = {u["deployment_name"]: u["reason"] for u in out["unattested"]}
    assert reasons == {"shadow": "not_attested", "local": "no_repository_digest"}
    listed = space.get("/v1/unattested").json()["items"]
    assert {i["deployment_name"] for i in listed} == {"shadow", "local"}
    assert {i["scope"] for i in listed} == {"default"}
    env = space.get("/v1/environments/k8s-east").json()
    assert {u["deployment_name"] for u in env["unattested"]} == {"shadow", "local"}
    assert [(s["logical_environment"], s["scope"]) for s in env["snapshots"]] == [
        ("production", "default")
    ]
    # Once attested and listed again, it is recorded and leaves the unattested list.
    space.attest(X)
    out = sync(space, w("api", A), w("shadow", X))
    assert [r["deployment_name"] for r in out["created"]] == ["shadow"]
    assert space.get("/v1/unattested").json()["items"] == []


def test_a_digest_that_cannot_be_recorded_replaces_the_record(space: ApiHarness) -> None:
    sync(space, w("api", A))
    out = sync(space, w("api", X))
    assert [(r["artifact"]["digest"], r["ended_reason"]) for r in out["decommissioned"]] == [
        (A, "replaced")
    ]
    assert active(space) == {}
    assert [u["digest"] for u in out["unattested"]] == [X]


def test_records_of_deployment_record_are_never_decommissioned(space: ApiHarness) -> None:
    space.record(digest=A, deployment_name="manual")
    out = sync(space, w("api", B))
    assert out["decommissioned"] == []
    assert active(space) == {"manual": A, "api": B}
    # Listing it makes the scope own it; then its absence decommissions it.
    sync(space, w("api", B), w("manual", A))
    out = sync(space, w("api", B))
    assert [r["deployment_name"] for r in out["decommissioned"]] == ["manual"]


def test_scopes_own_their_records(space: ApiHarness) -> None:
    sync(space, w("api", A), scope="ns:a")
    sync(space, w("web", B), scope="ns:b")
    out = sync(space, scope="ns:a")
    assert [r["deployment_name"] for r in out["decommissioned"]] == ["api"]
    assert active(space) == {"web": B}


def test_dry_run_answers_the_same_and_changes_nothing(space: ApiHarness) -> None:
    sync(space, w("api", A), w("web", B))
    before = space.get("/v1/deployments", params={"history": True}).json()["items"]
    audit_before = space.get("/v1/audit").json()["items"]
    dry = sync(space, w("api", C), dry_run=True)
    assert dry["snapshot"]["dry_run"] is True
    assert [r["artifact"]["digest"] for r in dry["created"]] == [C]
    assert [r["deployment_name"] for r in dry["decommissioned"]] == ["web"]
    assert space.get("/v1/deployments", params={"history": True}).json()["items"] == before
    assert space.get("/v1/audit").json()["items"] == audit_before
    real = sync(space, w("api", C))
    assert [r["deployment_name"] for r in real["decommissioned"]] == ["web"]


def test_a_snapshot_older_than_the_scopes_last_is_refused_whole(space: ApiHarness) -> None:
    sync(space, w("api", A), observed_at=ago(1))
    before = space.get("/v1/deployments", params={"history": True}).json()["items"]
    r = space.post(
        "/v1/environments/k8s-east/snapshots",
        {"logical_environment": "production", "observed_at": ago(2), "deployments": []},
    )
    assert r.status == 409 and r.error_code == "stale_report"
    assert space.get("/v1/deployments", params={"history": True}).json()["items"] == before


def test_slots_newer_than_the_snapshot_are_left_and_listed_stale(space: ApiHarness) -> None:
    sync(space, w("api", A), w("web", B), observed_at=ago(3))
    space.record(digest=C, deployment_name="api", observed_at=ago(1))  # a pipeline, later
    out = sync(space, w("api", A), observed_at=ago(2))
    assert [s["deployment_name"] for s in out["stale"]] == ["api"]
    assert [r["deployment_name"] for r in out["decommissioned"]] == ["web"]
    assert active(space)["api"] == C


def test_observed_at_sets_the_times(space: ApiHarness) -> None:
    at = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out = sync(space, w("api", A), observed_at=at)
    assert out["created"][0]["created_at"] == at
    assert out["snapshot"]["observed_at"] == at


@pytest.mark.parametrize(
    ("workloads", "word"),
    [
        ([w("Not_DNS", A)], "deployment name"),
        ([w("api", "sha256:xyz")], "digest"),
        ([w("api", A), w("api", B)], "twice"),
        ([{"deployment_name": "api", "kind": "VM", "digest": A}], "kind"),
        ([w("api", None, reason="because")], "reason"),
    ],
)
def test_bad_workloads_refuse_the_whole_snapshot(
    space: ApiHarness, workloads: list[dict[str, Any]], word: str
) -> None:
    r = space.post(
        "/v1/environments/k8s-east/snapshots",
        {"logical_environment": "production", "deployments": [w("ok", A), *workloads]},
    )
    assert r.status == 422, r.body
    assert word in r.json()["error"]["message"]
    assert active(space) == {}


def test_unknown_environment_or_stage(space: ApiHarness) -> None:
    r = space.post(
        "/v1/environments/k8s-eest/snapshots",
        {"logical_environment": "production", "deployments": []},
    )
    assert r.status == 404 and "k8s-east" in r.json()["error"]["message"]
    r = space.post(
        "/v1/environments/k8s-east/snapshots", {"logical_environment": "prod", "deployments": []}
    )
    assert r.status == 404


def test_sync_is_audited(space: ApiHarness) -> None:
    sync(space, w("api", A), w("web", B))
    sync(space, w("api", C))
    actions = [e["action"] for e in space.get("/v1/audit").json()["items"]]
    assert actions.count("deployment.created") == 3
    assert actions.count("deployment.superseded") == 1
    assert actions.count("deployment.decommissioned") == 1
    assert space.get("/v1/audit/verify").json()["intact"] is True


def test_a_big_snapshot(space: ApiHarness) -> None:
    digests = [digest(f"big-{i}") for i in range(1200)]
    space.attest(*digests)
    out = sync(space, *[w(f"svc-{i}", d) for i, d in enumerate(digests)])
    assert len(out["created"]) == 1200
    changed = [digest(f"big-new-{i}") for i in range(12)]
    space.attest(*changed)
    workloads = [w(f"svc-{i}", changed[i] if i < 12 else d) for i, d in enumerate(digests[:-12])]
    out = sync(space, *workloads)
    assert len(out["created"]) == 12 and len(out["superseded"]) == 12
    assert len(out["decommissioned"]) == 12 and out["heartbeats"] == 1200 - 24


def test_workloads_the_reporter_could_not_resolve(space: ApiHarness) -> None:
    """The CLI sends pods without a repository digest in `unattested`: kept, slot untouched."""
    sync(space, w("legacy", A))
    out = sync(
        space,
        w("api", B),
        unattested=[
            {
                "deployment_name": "legacy",
                "kind": "CONTAINER_IMAGE",
                "artifact_name": "index.docker.io/library/legacy",
                "artifact_version": "dev",
                "reason": "no_repository_digest",
            }
        ],
    )
    assert out["decommissioned"] == []
    assert [(u["deployment_name"], u["reason"]) for u in out["unattested"]] == [
        ("legacy", "no_repository_digest")
    ]
    assert active(space) == {"legacy": A, "api": B}
