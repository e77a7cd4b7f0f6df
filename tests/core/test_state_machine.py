"""SPEC §3: every row of the deployment record table, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.api import ApiHarness
from tests.support.digests import digest

D = digest("D")
E = digest("E")


@pytest.fixture
def slot(api: ApiHarness) -> ApiHarness:
    api.env("k8s-east")
    return api


def test_nothing_active_deployed_creates(slot: ApiHarness) -> None:
    r = slot.record(digest=D, artifact_name="ghcr.io/my-org/api-server", artifact_version="v1.0.0")
    assert r.status == 201
    rec = r.json()
    assert rec["action"] == "created"
    assert rec["status"] == "deployed"
    assert rec["created_at"] == rec["last_seen_at"] == rec["updated_at"]
    assert rec["created_at"].endswith("Z")
    assert rec["ended_at"] is None and rec["superseded_by"] is None
    assert rec["artifact"] == {
        "digest": D,
        "name": "ghcr.io/my-org/api-server",
        "version": "v1.0.0",
    }
    assert rec["environment"] == "k8s-east" and rec["logical_environment"] == "production"
    assert rec["deployment_name"] == "api-server" and rec["kind"] == "CONTAINER_IMAGE"


def test_same_digest_is_a_heartbeat(slot: ApiHarness) -> None:
    first = slot.record(digest=D).json()
    r = slot.record(digest=D)
    assert r.status == 200
    beat = r.json()
    assert beat["action"] == "heartbeat"
    assert beat["id"] == first["id"]
    assert beat["created_at"] == first["created_at"]
    assert beat["last_seen_at"] > first["last_seen_at"]
    history = slot.get("/v1/deployments", params={"history": True}).json()["items"]
    assert [h["id"] for h in history] == [first["id"]]


def test_other_digest_supersedes_in_one_step(slot: ApiHarness) -> None:
    old = slot.record(digest=E).json()
    r = slot.record(digest=D)
    assert r.status == 201
    new = r.json()
    assert new["action"] == "superseded_previous"
    assert new["id"] != old["id"]
    previous = slot.get(f"/v1/deployments/{old['id']}").json()
    assert previous["status"] == "superseded"
    assert previous["superseded_by"] == new["id"]
    assert previous["ended_at"] == new["created_at"]
    assert previous["artifact"]["digest"] == E  # records never change artifact
    active = slot.get("/v1/deployments").json()["items"]
    assert [a["id"] for a in active] == [new["id"]]


def test_decommission_the_deployed_digest(slot: ApiHarness) -> None:
    rec = slot.record(digest=D).json()
    r = slot.record(digest=D, status="decommissioned")
    assert r.status == 200
    done = r.json()
    assert done["action"] == "decommissioned"
    assert done["id"] == rec["id"]
    assert done["status"] == "decommissioned"
    assert done["ended_at"] is not None
    assert slot.get("/v1/deployments").json()["items"] == []


def test_decommission_another_digest_conflicts(slot: ApiHarness) -> None:
    slot.record(digest=E)
    before = slot.get("/v1/deployments", params={"history": True}).json()
    r = slot.record(digest=D, status="decommissioned")
    assert r.status == 409
    assert r.error_code == "conflict"
    assert slot.get("/v1/deployments", params={"history": True}).json() == before


def test_decommission_is_idempotent(slot: ApiHarness) -> None:
    slot.record(digest=D)
    done = slot.record(digest=D, status="decommissioned").json()
    again = slot.record(digest=D, status="decommissioned")
    assert again.status == 200
    body = again.json()
    assert body["action"] == "unchanged"
    body.pop("action")
    done.pop("action")
    assert body == done


@pytest.mark.parametrize("history", ["empty", "other-decommissioned", "superseded"])
def test_decommission_with_nothing_to_decommission_is_not_found(
    slot: ApiHarness, history: str
) -> None:
    if history == "other-decommissioned":
        slot.record(digest=E)
        slot.record(digest=E, status="decommissioned")
    elif history == "superseded":
        slot.record(digest=D)
        slot.record(digest=E)
        slot.record(digest=E, status="decommissioned")
    before = slot.get("/v1/deployments", params={"history": True}).json()
    r = slot.record(digest=D, status="decommissioned")
    assert r.status == 404
    assert r.error_code == "not_found"
    assert slot.get("/v1/deployments", params={"history": True}).json() == before


def test_redeploy_after_supersede_is_a_new_record(slot: ApiHarness) -> None:
    first = slot.record(digest=D).json()
    slot.record(digest=E)
    rollback = slot.record(digest=D)
    assert rollback.status == 201
    assert rollback.json()["action"] == "superseded_previous"
    assert rollback.json()["id"] != first["id"]
    history = slot.get("/v1/deployments", params={"history": True}).json()["items"]
    assert [h["artifact"]["digest"] for h in history] == [D, E, D]
    assert [h["status"] for h in history] == ["deployed", "superseded", "superseded"]


def test_redeploy_after_decommission_is_a_new_record(slot: ApiHarness) -> None:
    first = slot.record(digest=D).json()
    slot.record(digest=D, status="decommissioned")
    again = slot.record(digest=D)
    assert again.status == 201 and again.json()["action"] == "created"
    assert again.json()["id"] != first["id"]


def test_slots_are_independent(slot: ApiHarness) -> None:
    slot.env("k8s-west")
    a = slot.record(digest=D).json()
    others = [
        slot.record(digest=E, environment="k8s-west"),
        slot.record(digest=E, logical_environment="staging"),
        slot.record(digest=E, deployment_name="worker"),
        slot.record(digest=E, kind="HELM_CHART"),
    ]
    assert all(o.json()["action"] == "created" for o in others)
    assert slot.get(f"/v1/deployments/{a['id']}").json()["status"] == "deployed"
    assert len(slot.get("/v1/deployments").json()["items"]) == 5


def test_superseded_status_cannot_be_requested(slot: ApiHarness) -> None:
    r = slot.record(digest=D, status="superseded")
    assert r.status == 422
    assert "set by the system" in r.json()["error"]["message"]
