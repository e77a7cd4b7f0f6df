"""SPEC §8 diff: two logical environments within each environment, or two environments.

Property: for random histories (see model.py), on SQLite and PostgreSQL, every diff —
staging → production in all environments and in one, production → staging, east → west
and west → east in each logical environment — equals the model's: one row per
(environment, deployment name, kind) running on either side, with the same records,
state, `behind` (counted by walking the from slot's whole history) and `since`, in the
documented order (most behind first).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from deploytrace.api.insight import DiffList
from deploytrace.storage.db import Database
from tests.insight.model import (
    DIGESTS,
    ENVIRONMENTS,
    LOGICAL,
    NAMES,
    App,
    Op,
    World,
    pipelines,
    ts,
    z,
)
from tests.support.api import ApiHarness
from tests.support.cli import CliRunner, attest
from tests.support.digests import digest

PROPERTY = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
STATE_ORDER = {"different": 0, "only_from": 1, "only_to": 2, "same": 3}


@pytest.fixture
def app(db: Database) -> App:
    return App(db)


def model_diff(
    world: World, sides: list[tuple[str, str, str, str]], per_environment: bool
) -> list[dict[str, Any]]:
    """`sides`: (from env, from lenv, to env, to lenv) pairs of slot coordinates."""
    rows = []
    for fe, fl, te, tl in sides:
        for name, kind in NAMES:
            source, target = (fe, fl, name, kind), (te, tl, name, kind)
            f, t = world.active.get(source), world.active.get(target)
            if f is None and t is None:
                continue
            if f is not None and t is not None:
                state = "same" if f.digest == t.digest else "different"
                behind = 0 if state == "same" else world.behind(source, t.digest)
            else:
                state, behind = ("only_to" if f is None else "only_from"), None
            rows.append(
                {
                    "environment": fe if per_environment else None,
                    "deployment_name": name,
                    "kind": kind,
                    "from": f.id if f else None,
                    "to": t.id if t else None,
                    "state": state,
                    "behind": behind,
                    "since": world.since(target),
                }
            )
    rows.sort(
        key=lambda r: (
            STATE_ORDER[r["state"]],
            -(r["behind"] if r["behind"] is not None else -1),
            r["environment"] or "",
            r["deployment_name"],
            r["kind"],
        )
    )
    return rows


def answered(api: ApiHarness, params: dict[str, str]) -> list[dict[str, Any]]:
    r = api.get("/v1/diff", params=params)
    assert r.status == 200, r.body
    body = r.json()
    assert body["next_cursor"] is None
    return [
        {
            "environment": row["environment"],
            "deployment_name": row["deployment_name"],
            "kind": row["kind"],
            "from": row["from"]["id"] if row["from"] else None,
            "to": row["to"]["id"] if row["to"] else None,
            "state": row["state"],
            "behind": row["behind"],
            "since": ts(row["since"]) if row["since"] else None,
        }
        for row in body["items"]
    ]


@given(history=pipelines)
@PROPERTY
def test_diff_equals_the_model(app: App, history: list[Op]) -> None:
    world = app.world()
    world.attest([[0]] * len(DIGESTS))
    for op in history:
        world.apply(op)
    api = world.api
    for source, target in (("staging", "production"), ("production", "staging")):
        everywhere = [(e, source, e, target) for e in ENVIRONMENTS]
        assert answered(api, {"from": source, "to": target}) == model_diff(
            world, everywhere, per_environment=True
        )
        one = [("west", source, "west", target)]
        assert answered(api, {"from": source, "to": target, "environment": "west"}) == (
            model_diff(world, one, per_environment=True)
        )
    for lenv in LOGICAL:
        for e1, e2 in (("east", "west"), ("west", "east")):
            params = {"from_env": e1, "to_env": e2, "logical_environment": lenv}
            assert answered(api, params) == model_diff(
                world, [(e1, lenv, e2, lenv)], per_environment=False
            )


def record(api: ApiHarness, lenv: str, d: str, at: dt.datetime, **fields: Any) -> dict[str, Any]:
    r = api.record(logical_environment=lenv, digest=d, observed_at=z(at), **fields)
    assert r.status in (200, 201), r.body
    return dict(r.json())


def test_a_worked_example(api: ApiHarness) -> None:
    """Staging ran v1 v2 v3 v2 v3 v4 v3; production runs v2: behind 2 (v3 and v4, each
    counted once, after staging's last run of v2); heartbeats do not move `since`."""
    api.env("k8s-east")
    v = [digest(f"v{i}") for i in range(6)]
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(days=5)

    def at(hours: float) -> dt.datetime:
        return t0 + dt.timedelta(hours=hours)

    for i, d in enumerate([v[1], v[2], v[3], v[2], v[3], v[4], v[3]]):
        record(api, "staging", d, at(i))
    prod = record(api, "production", v[2], at(10))
    record(api, "production", v[2], at(20))  # a heartbeat
    record(api, "staging", v[5], at(11), deployment_name="only-staging")
    record(api, "production", v[5], at(12), deployment_name="only-prod")
    record(api, "staging", v[5], at(13), deployment_name="same")
    record(api, "production", v[5], at(14), deployment_name="same")
    record(api, "production", v[0], at(15), deployment_name="never")
    record(api, "staging", v[5], at(16), deployment_name="never")
    gone = record(api, "production", v[5], at(17), deployment_name="gone")
    record(api, "production", v[5], at(18), deployment_name="gone", status="decommissioned")
    record(api, "staging", v[5], at(19), deployment_name="gone")
    body = api.get("/v1/diff", params={"from": "staging", "to": "production"}).json()
    # Exactly what the documented response model writes.
    assert DiffList.model_validate(body).model_dump(mode="json", by_alias=True) == body
    rows = body["items"]
    summary = [
        (r["deployment_name"], r["state"], r["behind"], ts(r["since"]) if r["since"] else None)
        for r in rows
    ]
    assert summary == [
        ("api-server", "different", 2, ts(prod["created_at"])),
        ("never", "different", None, at(15)),
        ("gone", "only_from", None, at(18)),
        ("only-staging", "only_from", None, None),
        ("only-prod", "only_to", None, at(12)),
        ("same", "same", 0, at(14)),
    ]
    assert gone["id"] != rows[2]["from"]["id"]
    assert rows[0]["from"]["artifact"]["digest"] == v[3]
    assert rows[0]["to"]["artifact"]["digest"] == v[2]
    assert rows[0]["to"]["last_seen_at"] > rows[0]["to"]["created_at"]  # it did heartbeat


def test_environment_diff_has_no_environment(api: ApiHarness) -> None:
    api.env("east")
    api.env("west")
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=5)
    record(api, "production", digest("a"), t0, environment="east")
    record(api, "production", digest("b"), t0, environment="west")
    record(api, "production", digest("a"), t0 + dt.timedelta(hours=1), environment="west")
    rows = api.get(
        "/v1/diff",
        params={"from_env": "east", "to_env": "west", "logical_environment": "production"},
    ).json()["items"]
    assert [(r["environment"], r["state"], r["behind"]) for r in rows] == [(None, "same", 0)]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"from": "staging", "to": "nowhere"}, 404),
        ({"from": "nowhere", "to": "production"}, 404),
        ({"from": "staging", "to": "production", "environment": "nowhere"}, 404),
        ({"from_env": "east", "to_env": "nowhere", "logical_environment": "production"}, 404),
        ({"from_env": "east", "to_env": "west", "logical_environment": "nowhere"}, 404),
        ({"from": "staging"}, 422),
        ({}, 422),
        ({"from_env": "east", "to_env": "west"}, 422),
        ({"from": "staging", "to": "production", "from_env": "east"}, 422),
        ({"from": "staging", "to": "staging"}, 422),
        ({"from": "Staging!", "to": "production"}, 422),
        ({"from_env": "east", "to_env": "east", "logical_environment": "production"}, 422),
    ],
)
def test_bad_requests(api: ApiHarness, params: dict[str, str], status: int) -> None:
    api.env("east")
    api.env("west")
    r = api.get("/v1/diff", params=params)
    assert r.status == status, r.body
    assert r.json()["error"]["message"]


def test_cli_table_and_json(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    assert cli("environment", "create", "k8s-east").code == 0
    old, new = digest("old"), digest("new")
    attest(cli, tmp_path, old, new)
    base = ["deployment", "record", "--env", "k8s-east", "--deployment-name", "api"]
    base += ["--kind", "CONTAINER_IMAGE"]
    assert cli(*base, "--logical-env", "staging", "--digest", old).code == 0
    assert cli(*base, "--logical-env", "production", "--digest", old).code == 0
    args = ["--artifact-version", "v2.0.0"]
    assert cli(*base, "--logical-env", "staging", "--digest", new, *args).code == 0
    r = cli("deployment", "diff", "--from", "staging", "--to", "production")
    assert r.code == 0, r.err
    header, _, line = r.out.splitlines()[:3]
    assert header.split() == [
        "ENV",
        "DEPLOYMENT",
        "KIND",
        "STAGING",
        "PRODUCTION",
        "STATE",
        "BEHIND",
        "SINCE",
    ]
    assert line.split()[:7] == [
        "k8s-east",
        "api",
        "CONTAINER_IMAGE",
        "v2.0.0",
        old[:19],
        "different",
        "1",
    ]
    r = cli("deployment", "diff", "--from", "staging", "--to", "production", "-o", "json")
    assert r.code == 0
    (row,) = r.json()
    assert (row["state"], row["behind"], row["from"]["artifact"]["digest"]) == ("different", 1, new)
    r = cli("deployment", "diff", "--from", "staging", "--to", "qa")
    assert r.code == 3 and r.err.startswith("error: logical environment 'qa' not found")
    r = cli("deployment", "diff", "--from", "staging")
    assert r.code == 2
    r = cli(
        "deployment", "diff", "--from-env", "k8s-east", "--to-env", "x", "--logical-env", "prod"
    )
    assert r.code == 3
    r = cli(
        "deployment",
        "diff",
        "--from-env",
        "k8s-east",
        "--to-env",
        "k8s-east",
        "--logical-env",
        "production",
    )
    assert r.code == 7
