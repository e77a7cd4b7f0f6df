"""SPEC §7 Order: --observed-at sets when a change took effect; older reports never win."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.api import ApiHarness
from tests.support.digests import digest

D, E, F = digest("D"), digest("E"), digest("F")


def t(hours: float) -> str:
    """An instant `hours` before now, RFC 3339 with Z."""
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def slot(api: ApiHarness) -> ApiHarness:
    api.env("k8s-east")
    return api


def test_created_at_is_the_observed_time(slot: ApiHarness) -> None:
    at = t(5)
    rec = slot.record(digest=D, observed_at=at).json()
    assert rec["created_at"] == rec["last_seen_at"] == at
    assert rec["updated_at"] > at  # the server's own clock


def test_supersede_and_decommission_take_effect_at_the_observed_time(slot: ApiHarness) -> None:
    first = slot.record(digest=D, observed_at=t(5)).json()
    at = t(4)
    second = slot.record(digest=E, observed_at=at).json()
    assert second["action"] == "superseded_previous"
    assert second["created_at"] == at
    assert second["previous"] == {"id": first["id"], "digest": D, "version": None}
    old = slot.get(f"/v1/deployments/{first['id']}").json()
    assert old["ended_at"] == second["created_at"]
    assert old["ended_reason"] == "superseded"
    gone = slot.record(digest=E, status="decommissioned", observed_at=t(3)).json()
    assert gone["action"] == "decommissioned"
    assert gone["ended_reason"] == "decommissioned"
    assert gone["ended_at"] > second["created_at"]


def test_an_older_report_cannot_overwrite_a_newer_one(slot: ApiHarness) -> None:
    """A delayed pipeline (observed before what the slot knows) changes nothing: 409."""
    slot.record(digest=E, observed_at=t(1))
    before = slot.get("/v1/deployments", params={"history": True}).json()["items"]
    r = slot.record(digest=D, observed_at=t(2))
    assert r.status == 409
    assert r.error_code == "stale_report"
    assert "nothing changed" in r.json()["error"]["message"]
    assert slot.get("/v1/deployments", params={"history": True}).json()["items"] == before
    # A decommission observed before the deployment is stale too.
    r = slot.record(digest=E, status="decommissioned", observed_at=t(2))
    assert r.status == 409 and r.error_code == "stale_report"


def test_an_older_heartbeat_changes_nothing_and_is_no_error(slot: ApiHarness) -> None:
    rec = slot.record(digest=D, observed_at=t(1)).json()
    r = slot.record(digest=D, observed_at=t(2))
    assert r.status == 200
    beat = r.json()
    assert beat["action"] == "heartbeat"
    assert beat["last_seen_at"] == rec["last_seen_at"]
    assert beat["heartbeats"] == 0
    newer = slot.record(digest=D, observed_at=t(0.5)).json()
    assert newer["last_seen_at"] > rec["last_seen_at"] and newer["heartbeats"] == 1


def test_equal_time_is_not_stale(slot: ApiHarness) -> None:
    at = t(1)
    slot.record(digest=D, observed_at=at)
    r = slot.record(digest=E, observed_at=at)
    assert r.status == 201
    assert r.json()["created_at"] == at


def test_future_beyond_clock_skew_is_invalid(slot: ApiHarness) -> None:
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).isoformat()
    r = slot.record(digest=D, observed_at=future)
    assert r.status == 422
    assert "future" in r.json()["error"]["message"]
    assert slot.get("/v1/deployments", params={"history": True}).json()["items"] == []
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).isoformat()
    assert slot.record(digest=D, observed_at=soon).status == 201


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "2026-11-01T10:00:00"])
def test_malformed_or_zoneless_times_are_invalid(slot: ApiHarness, value: str) -> None:
    r = slot.record(digest=D, observed_at=value)
    assert r.status == 422


def test_a_report_after_an_imported_future_keeps_times_in_order(slot: ApiHarness) -> None:
    """Without --observed-at a change never takes effect before what the slot knows."""
    ahead = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    first = slot.record(digest=D, observed_at=ahead).json()
    second = slot.record(digest=E).json()
    assert second["created_at"] >= first["created_at"]
    old = slot.get(f"/v1/deployments/{first['id']}").json()
    assert old["ended_at"] == second["created_at"]


def test_imported_history_sorts_where_it_happened(slot: ApiHarness) -> None:
    slot.record(digest=D, deployment_name="recent")
    slot.record(digest=E, deployment_name="older", observed_at=t(48))
    slot.record(digest=F, deployment_name="oldest", observed_at=t(72))
    items = slot.get("/v1/deployments").json()["items"]
    assert [i["deployment_name"] for i in items] == ["recent", "older", "oldest"]
    page = slot.get("/v1/deployments", params={"limit": 2}).json()
    rest = slot.get("/v1/deployments", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    names = [i["deployment_name"] for i in page["items"] + rest["items"]]
    assert names == ["recent", "older", "oldest"]
