"""SPEC §7 Staleness: computed at read time from the environment's --stale-after."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.api import ApiHarness
from tests.support.cli import RECORD, CliRunner, attest
from tests.support.digests import digest

D, E = digest("D"), digest("E")


def ago(hours: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).isoformat()


@pytest.fixture
def east(api: ApiHarness) -> ApiHarness:
    r = api.post("/v1/environments", {"name": "k8s-east", "stale_after": "1h"})
    assert r.status == 201, r.body
    assert r.json()["stale_after"] == "1h" and r.json()["stale_after_seconds"] == 3600
    return api


def test_a_record_not_seen_for_longer_than_stale_after_is_stale(east: ApiHarness) -> None:
    old = east.record(digest=D, deployment_name="old", observed_at=ago(2)).json()
    fresh = east.record(digest=E, deployment_name="fresh").json()
    assert old["stale"] is True and fresh["stale"] is False
    items = {i["deployment_name"]: i["stale"] for i in east.get("/v1/deployments").json()["items"]}
    assert items == {"old": True, "fresh": False}
    stale = east.get("/v1/deployments", params={"stale": True}).json()["items"]
    assert [i["deployment_name"] for i in stale] == ["old"]
    assert east.get(f"/v1/deployments/{old['id']}").json()["stale"] is True


def test_a_heartbeat_makes_it_fresh_again(east: ApiHarness) -> None:
    east.record(digest=D, observed_at=ago(2))
    beat = east.record(digest=D).json()
    assert beat["action"] == "heartbeat" and beat["stale"] is False
    assert east.get("/v1/deployments", params={"stale": True}).json()["items"] == []


def test_ended_records_are_never_stale(east: ApiHarness) -> None:
    east.record(digest=D, observed_at=ago(3))
    east.record(digest=E, observed_at=ago(2))
    history = east.get("/v1/deployments", params={"history": True}).json()["items"]
    assert [(i["status"], i["stale"]) for i in history] == [
        ("deployed", True),
        ("superseded", False),
    ]


def test_no_stale_after_means_never_stale_and_none_clears_it(east: ApiHarness) -> None:
    east.env("k8s-west")
    west = east.record(digest=D, environment="k8s-west", observed_at=ago(500)).json()
    assert west["stale"] is False
    east.record(digest=E, observed_at=ago(2))
    r = east.patch("/v1/environments/k8s-east", {"stale_after": "none"})
    assert r.status == 200 and r.json()["stale_after"] is None
    assert east.get("/v1/deployments", params={"stale": True}).json()["items"] == []


@pytest.mark.parametrize("value", ["soon", "0s", "-5m", "15"])
def test_invalid_stale_after_is_refused(api: ApiHarness, value: str) -> None:
    r = api.post("/v1/environments", {"name": "k8s-east", "stale_after": value})
    assert r.status == 422
    assert api.get("/v1/environments").json()["items"] == []


def test_logical_environments_have_no_stale_after(api: ApiHarness) -> None:
    r = api.post("/v1/logical-environments", {"name": "qa", "stale_after": "1h"})
    assert r.status == 422


def test_cli_stale_after_and_stale_marks(cli: CliRunner, tmp_path: object) -> None:
    assert cli("environment", "create", "--name", "k8s-east", "--stale-after", "15m").code == 0
    shown = cli("environment", "describe", "k8s-east").out
    assert "stale after" in shown and "15m" in shown
    attest(cli, tmp_path, D)  # type: ignore[arg-type]
    r = cli(*RECORD, "--kind", "CONTAINER_IMAGE", "--digest", D, "--observed-at", ago(1))
    assert r.code == 0, r.err
    listed = cli("deployment", "list", "--stale", "-o", "json").json()
    assert [i["artifact"]["digest"] for i in listed] == [D]
    assert "STALE" in cli("deployment", "list").out
    assert cli("environment", "update", "k8s-east", "--stale-after", "2h").code == 0
    assert cli("deployment", "list", "--stale", "-o", "json").json() == []
