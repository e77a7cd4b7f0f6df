"""SPEC §8 time travel: `deployment list --at T` is the history replayed up to T.

Property: for random histories (creates, supersedes, heartbeats, decommissions over 8
slots in 2 environments x 2 logical environments x 2 kinds, reports at one instant or
hours apart, rollbacks to earlier digests), on SQLite and PostgreSQL, the API's
`at=T` list equals the model's replay of the reports up to T — for instants on,
just before and just after every change, before the first record and in the future
— under every filter alone and combined, read whole and in pages of 2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploytrace.storage.db import Database
from tests.insight.model import DIGESTS, ENVIRONMENTS, LOGICAL, NAMES, App, Op, World, ops, z
from tests.support.api import ApiHarness
from tests.support.cli import RECORD, CliRunner, attest
from tests.support.digests import digest

PROPERTY = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
US = dt.timedelta(microseconds=1)


@pytest.fixture
def app(db: Database) -> App:
    return App(db)


def instants(world: World) -> list[dt.datetime]:
    """Every change, a microsecond either side of it, before anything, and the future."""
    found = {world.start - dt.timedelta(hours=1), dt.datetime.now(dt.UTC) + dt.timedelta(days=1)}
    for when, _, _ in world.history:
        found |= {when - US, when, when + US}
    return sorted(found)


filters = st.fixed_dictionaries(
    {},
    optional={
        "environment": st.sampled_from(ENVIRONMENTS),
        "logical_environment": st.sampled_from(LOGICAL),
        "deployment_name": st.sampled_from([n for n, _ in NAMES]),
        "kind": st.sampled_from([k for _, k in NAMES]),
        "digest": st.sampled_from(DIGESTS),
    },
)


def expected(world: World, at: dt.datetime, chosen: dict[str, str]) -> list[str]:
    if at > dt.datetime.now(dt.UTC):
        return []  # nothing is known to run in the future
    alive = world.replay(at)
    by_id = {r.id: r for r in world.records}
    rows = []
    for slot, rec_id in alive.items():
        env, lenv, name, kind = slot
        rec = by_id[rec_id]
        wanted = {
            "environment": env,
            "logical_environment": lenv,
            "deployment_name": name,
            "kind": kind,
            "digest": rec.digest,
        }
        if all(wanted[k] == v for k, v in chosen.items()):
            rows.append(rec)
    rows.sort(key=lambda r: r.key, reverse=True)
    return [r.id for r in rows]


def listed(api: ApiHarness, params: dict[str, Any], page: int | None) -> Iterator[str]:
    cursor = None
    while True:
        r = api.get("/v1/deployments", params={**params, "limit": page, "cursor": cursor})
        assert r.status == 200, r.body
        body = r.json()
        yield from (item["id"] for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return


@given(history=ops, data=st.data())
@PROPERTY
def test_at_equals_replaying_the_history(app: App, history: list[Op], data: st.DataObject) -> None:
    world = app.world()
    world.attest([[0]] * len(DIGESTS))
    for op in history:
        world.apply(op)
    moments = instants(world)
    for _ in range(6):
        at = data.draw(st.sampled_from(moments), label="at")
        chosen = data.draw(filters, label="filters")
        page = data.draw(st.sampled_from([None, 2]), label="page size")
        params = {"at": z(at), **chosen}
        if data.draw(st.booleans(), label="history flag"):
            params["history"] = True  # --at answers the same with or without --history
        assert list(listed(world.api, params, page)) == expected(world, at, chosen), params


def test_before_any_record_and_in_the_future_are_empty(api: ApiHarness) -> None:
    api.env("k8s-east")
    now = dt.datetime.now(dt.UTC)
    api.record(digest=digest("D"), observed_at=z(now - dt.timedelta(hours=2)))
    for at in (now - dt.timedelta(days=3), now + dt.timedelta(minutes=1)):
        r = api.get("/v1/deployments", params={"at": z(at)})
        assert r.status == 200 and r.json() == {"items": [], "next_cursor": None}
    assert len(api.get("/v1/deployments", params={"at": z(now)}).json()["items"]) == 1


def test_a_record_observed_ahead_of_the_server_is_not_in_the_past(api: ApiHarness) -> None:
    """A report may be a little ahead of the server's clock (SPEC §7); asking for an instant
    before it is not asking for the future."""
    api.env("k8s-east")
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=3)
    api.record(digest=digest("D"), observed_at=z(ahead))
    r = api.get("/v1/deployments", params={"at": z(dt.datetime.now(dt.UTC))})
    assert r.json()["items"] == []


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2026-13-01T00:00:00Z", "2026-11-01T25:00:00Z", "2026-11-01T10:00:00", ""],
)
def test_malformed_or_zoneless_at_is_invalid(api: ApiHarness, value: str) -> None:
    r = api.get("/v1/deployments", params={"at": value})
    assert r.status == 422, r.body
    assert r.error_code == "invalid"


def test_cli_at(cli: CliRunner, tmp_path: Any) -> None:
    assert cli("environment", "create", "k8s-east").code == 0
    first, second = digest("v1"), digest("v2")
    attest(cli, tmp_path, first, second)
    kind = ["--kind", "CONTAINER_IMAGE"]
    now = dt.datetime.now(dt.UTC)
    t1, t2 = now - dt.timedelta(hours=3), now - dt.timedelta(hours=1)
    assert cli(*RECORD, *kind, "--digest", first, "--observed-at", z(t1)).code == 0
    assert cli(*RECORD, *kind, "--digest", second, "--observed-at", z(t2)).code == 0
    between = z(now - dt.timedelta(hours=2))
    r = cli("deployment", "list", "--at", between, "-o", "json")
    assert r.code == 0, r.err
    assert [i["artifact"]["digest"] for i in r.json()] == [first]
    r = cli("deployment", "list", "--at", z(now - dt.timedelta(days=1)))
    assert r.code == 0 and "nothing was deployed at" in r.err
    r = cli("deployment", "list", "--at", "last tuesday")
    assert r.code == 7 and r.err.startswith("error: ")
    r = cli("deployment", "list", "--at", "2026-11-01T10:00:00")
    assert r.code == 7


@pytest.mark.parametrize("page", [1, 2, 50])
def test_what_ran_long_ago_behind_many_newer_changes(api: ApiHarness, page: int) -> None:
    """A record alive at T that ended after T, behind more newer records than a page reads
    at first: it must still be found (the `ended_at` side of the search)."""
    api.env("k8s-east")
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    long_lived = api.record(digest=digest("long"), deployment_name="long", observed_at=z(t0))
    ids = []
    for i in range(30):  # churn in another slot, all ended before T but the last
        at = t0 + dt.timedelta(minutes=i + 1)
        ids.append(
            api.record(digest=digest(f"busy-{i}"), deployment_name="busy", observed_at=z(at))
        )
    at = t0 + dt.timedelta(hours=1)
    api.record(
        digest=digest("new"), deployment_name="long", observed_at=z(t0 + dt.timedelta(hours=2))
    )
    expected = [ids[-1].json()["id"], long_lived.json()["id"]]
    assert list(listed(api, {"at": z(at)}, page)) == expected
