"""SPEC §8 promotion order: development < staging < production, `--after` inserts;
a record whose digest never ran in the previous stage says which one it skipped."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.api import ApiHarness
from tests.support.cli import CliRunner
from tests.support.digests import digest

D, E = digest("D"), digest("E")


def ago(hours: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).isoformat()


@pytest.fixture
def east(api: ApiHarness) -> ApiHarness:
    api.env("k8s-east")
    api.env("k8s-west")
    return api


def test_built_in_order(east: ApiHarness) -> None:
    items = east.get("/v1/logical-environments").json()["items"]
    assert {i["name"]: i["position"] for i in items} == {
        "development": 1,
        "staging": 2,
        "production": 3,
    }


def test_skipping_staging_is_marked(east: ApiHarness) -> None:
    prod = east.record(digest=D, logical_environment="production").json()
    assert prod["promotion"] == {"skipped": "staging"}
    dev = east.record(digest=D, logical_environment="development").json()
    assert dev["promotion"] is None  # the first stage never skips


def test_promoted_through_staging_in_any_environment(east: ApiHarness) -> None:
    east.record(digest=D, logical_environment="staging", environment="k8s-west")
    prod = east.record(digest=D, logical_environment="production").json()
    assert prod["promotion"] is None


def test_staging_must_come_before_the_record(east: ApiHarness) -> None:
    prod = east.record(digest=D, logical_environment="production", observed_at=ago(2)).json()
    east.record(digest=D, logical_environment="staging", observed_at=ago(1))
    again = east.get(f"/v1/deployments/{prod['id']}").json()
    assert again["promotion"] == {"skipped": "staging"}  # fixed when it was created


def test_after_inserts_a_stage(east: ApiHarness) -> None:
    r = east.post("/v1/logical-environments", {"name": "qa", "after": "staging"})
    assert r.status == 201 and r.json()["position"] == 3
    order = {i["name"]: i["position"] for i in east.get("/v1/logical-environments").json()["items"]}
    assert order == {"development": 1, "staging": 2, "qa": 3, "production": 4}
    east.record(digest=D, logical_environment="staging")
    prod = east.record(digest=D, logical_environment="production").json()
    assert prod["promotion"] == {"skipped": "qa"}
    qa = east.record(digest=D, logical_environment="qa").json()
    assert qa["promotion"] is None


def test_outside_the_order_never_skips_nor_is_required(east: ApiHarness) -> None:
    r = east.post("/v1/logical-environments", {"name": "canary"})
    assert r.status == 201 and r.json()["position"] is None
    canary = east.record(digest=D, logical_environment="canary").json()
    assert canary["promotion"] is None
    east.record(digest=D, logical_environment="staging")
    assert east.record(digest=D, logical_environment="production").json()["promotion"] is None


@pytest.mark.parametrize(
    ("after", "why"),
    [("nowhere", "no logical environment"), ("qa", "itself"), ("canary", "outside")],
)
def test_bad_after_is_invalid(east: ApiHarness, after: str, why: str) -> None:
    east.post("/v1/logical-environments", {"name": "canary"})
    r = east.post("/v1/logical-environments", {"name": "qa", "after": after})
    assert r.status == 422
    assert why in r.json()["error"]["message"]
    names = [i["name"] for i in east.get("/v1/logical-environments").json()["items"]]
    assert "qa" not in names


def test_environments_have_no_order(east: ApiHarness) -> None:
    assert east.post("/v1/environments", {"name": "k8s-north", "after": "k8s-east"}).status == 422


def test_skipped_promotion_filter(east: ApiHarness) -> None:
    east.record(digest=D, logical_environment="production")  # skipped staging
    east.record(digest=E, logical_environment="development")
    east.record(digest=E, logical_environment="staging")
    east.record(digest=E, logical_environment="production")  # promoted; supersedes D
    skipped = east.get("/v1/deployments", params={"skipped_promotion": True}).json()["items"]
    assert skipped == []  # active only
    history = east.get(
        "/v1/deployments", params={"skipped_promotion": True, "history": True}
    ).json()["items"]
    assert [i["artifact"]["digest"] for i in history] == [D]


def test_cli_after_and_filter(cli: CliRunner) -> None:
    assert cli("logical-environment", "create", "--name", "qa", "--after", "staging").code == 0
    listed = cli("logical-environment", "list").out
    assert listed.index("staging") < listed.index("qa") or "ORDER" in listed
    r = cli("logical-environment", "create", "--name", "uat", "--after", "nope")
    assert r.code == 7 and "nope" in r.err
