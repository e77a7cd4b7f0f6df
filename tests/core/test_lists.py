"""Listing: active by default, --history, filters, newest first, keyset pagination."""

from __future__ import annotations

import pytest

from tests.support.api import ApiHarness
from tests.support.digests import digest


@pytest.fixture
def populated(api: ApiHarness) -> ApiHarness:
    api.env("k8s-east")
    api.env("k8s-west")
    api.record(digest=digest(1))  # east/production/api-server
    api.record(digest=digest(2))  # supersedes 1
    api.record(digest=digest(3), environment="k8s-west")
    api.record(digest=digest(4), logical_environment="staging")
    api.record(digest=digest(5), deployment_name="worker", kind="HELM_CHART")
    api.record(digest=digest(6), deployment_name="cron")
    api.record(digest=digest(6), deployment_name="cron", status="decommissioned")
    return api


def _digests(api: ApiHarness, **params: object) -> list[str]:
    r = api.get("/v1/deployments", params=params)
    assert r.status == 200, r.body
    return [i["artifact"]["digest"] for i in r.json()["items"]]


def test_active_only_by_default_newest_first(populated: ApiHarness) -> None:
    assert _digests(populated) == [digest(5), digest(4), digest(3), digest(2)]


def test_history_adds_superseded_and_decommissioned(populated: ApiHarness) -> None:
    assert _digests(populated, history=True) == [digest(n) for n in (6, 5, 4, 3, 2, 1)]


def test_filters(populated: ApiHarness) -> None:
    assert _digests(populated, environment="k8s-west") == [digest(3)]
    assert _digests(populated, logical_environment="staging") == [digest(4)]
    assert _digests(populated, environment="k8s-east", logical_environment="production") == [
        digest(5),
        digest(2),
    ]
    assert _digests(
        populated, environment="k8s-east", logical_environment="production", history=True
    ) == [digest(6), digest(5), digest(2), digest(1)]
    assert _digests(populated, deployment_name="worker") == [digest(5)]
    assert _digests(populated, kind="helm_chart") == [digest(5)]
    assert _digests(populated, digest=digest(1)) == []
    assert _digests(populated, digest=digest(1), history=True) == [digest(1)]


def test_unknown_filter_environment_is_not_found(populated: ApiHarness) -> None:
    assert populated.get("/v1/deployments", params={"environment": "mars"}).status == 404
    assert populated.get("/v1/deployments", params={"logical_environment": "qa"}).status == 404


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "nope"},
        {"digest": "sha256:zz"},
        {"limit": 0},
        {"limit": 501},
        {"limit": "x"},
        {"cursor": "!!!"},
        {"cursor": "bm90IGpzb24"},
        {"history": "maybe"},
    ],
)
def test_bad_list_parameters_are_422(populated: ApiHarness, params: dict[str, object]) -> None:
    r = populated.get("/v1/deployments", params=params)
    assert r.status == 422, r.body


def test_keyset_pagination_walks_everything_once(populated: ApiHarness) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = populated.get(
            "/v1/deployments", params={"history": True, "limit": 2, "cursor": cursor}
        ).json()
        assert len(page["items"]) <= 2
        seen.extend(i["id"] for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = populated.get("/v1/deployments", params={"history": True}).json()["items"]
    assert seen == [i["id"] for i in everything]
    assert len(seen) == 6


def test_pagination_is_stable_while_records_are_added(populated: ApiHarness) -> None:
    first = populated.get("/v1/deployments", params={"history": True, "limit": 3}).json()
    populated.record(digest=digest(99), deployment_name="new")
    rest = populated.get(
        "/v1/deployments", params={"history": True, "limit": 10, "cursor": first["next_cursor"]}
    ).json()
    ids = [i["id"] for i in first["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == 6


def test_describe_unknown_or_malformed_id_is_404(populated: ApiHarness) -> None:
    assert populated.get("/v1/deployments/not-a-uuid").status == 404
    assert populated.get("/v1/deployments/01a213b1-f3bd-7b23-8375-747ae1604295").status == 404
