"""SPEC §8 DORA: the four figures against a brute-force computation over every record.

Property: for random histories (creates, supersedes, rollbacks, heartbeats,
decommissions) and random attestations per digest (build finish times before, among and
after the deployments, or none: then the push time counts), on SQLite and PostgreSQL,
`GET /v1/metrics/dora` over random windows, scopes and failure windows equals the model
of model.py, which walks every slot's whole history.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploytrace.services.dora import percentile
from deploytrace.storage.db import Database
from tests.insight.model import App, Op, built_hours, dora_model, ops, ts, z
from tests.support.api import ApiHarness
from tests.support.cli import CliRunner
from tests.support.digests import digest
from tests.support.statements import statement

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
WINDOWS = {"30m": dt.timedelta(minutes=30), "6h": dt.timedelta(hours=6), "1d": dt.timedelta(days=1)}


@pytest.fixture
def app(db: Database) -> App:
    return App(db)


def close(answer: dict[str, Any], model: dict[str, Any]) -> None:
    """Equal, floats to 1e-9 relative (two ways of interpolating round differently)."""
    assert answer.keys() == model.keys()
    for key, expected in model.items():
        got = answer[key]
        if key == "window":
            assert {k: ts(v) for k, v in got.items()} == {k: ts(v) for k, v in expected.items()}
        elif isinstance(expected, dict):
            assert got.keys() == expected.keys(), key
            for k, v in expected.items():
                assert got[k] == (pytest.approx(v, rel=1e-9) if v is not None else None), key
        else:
            assert got == (pytest.approx(expected, rel=1e-9) if expected is not None else None), key


@given(history=ops, hours=built_hours, data=st.data())
@PROPERTY
def test_dora_equals_brute_force(
    app: App, history: list[Op], hours: list[list[int | None]], data: st.DataObject
) -> None:
    world = app.world()
    world.attest(hours)
    for op in history:
        world.apply(op)
    times = sorted({when for when, _, _ in world.history} | {world.start})
    for _ in range(4):
        lenv = data.draw(st.sampled_from(["staging", "production"]), label="lenv")
        env = data.draw(st.sampled_from([None, "east"]), label="env")
        name = data.draw(st.sampled_from([None, "api"]), label="name")
        start = data.draw(st.sampled_from(times), label="since")
        end = data.draw(st.sampled_from([t for t in times if t > start] or [start]), label="until")
        end += dt.timedelta(microseconds=data.draw(st.sampled_from([0, 1]), label="until+"))
        if end <= start:
            end = start + dt.timedelta(hours=1)
        window = data.draw(st.sampled_from(sorted(WINDOWS)), label="failure window")
        params = {
            "logical_environment": lenv,
            "environment": env,
            "deployment_name": name,
            "since": z(start),
            "until": z(end),
            "failure_window": window,
        }
        r = world.api.get("/v1/metrics/dora", params=params)
        assert r.status == 200, r.body
        close(r.json(), dora_model(world, lenv, env, name, start, end, WINDOWS[window]))


@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=2, max_size=50))
def test_percentiles_are_numpys_linear_interpolation(values: list[float]) -> None:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    assert percentile(values, 50) == pytest.approx(cuts[49], rel=1e-9, abs=1e-6)
    assert percentile(values, 90) == pytest.approx(cuts[89], rel=1e-9, abs=1e-6)


def test_percentiles_of_one_and_of_none() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 90) == 7.0
    # numpy.percentile([1, 2, 3, 4], [50, 90]) == [2.5, 3.7]
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([4.0, 1.0, 3.0, 2.0], 90) == pytest.approx(3.7)


# A worked example: the seed's workflow with a rollback ------------------------------------


def built(subject: str, finished: dt.datetime) -> bytes:
    return statement(subject).replace(
        b'"predicate": {}',
        b'"predicate": {"runDetails": {"metadata": {"finishedOn": "'
        + finished.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        + b'"}}}',
    )


@pytest.fixture
def seeded(api: ApiHarness) -> tuple[ApiHarness, dt.datetime]:
    """Build v1.0.0 and v1.1.0; deploy v1.0.0, upgrade to v1.1.0, roll back 2 h later;
    v1.2.0 (no build time: pushed now) is recorded as deployed yesterday-ish (skew)."""
    api.auto_attest = False
    api.env("k8s-east")
    t0 = (dt.datetime.now(dt.UTC) - dt.timedelta(days=10)).replace(microsecond=0)
    v1, v2, v3 = digest("v1.0.0"), digest("v1.1.0"), digest("v1.2.0")
    assert api.push(built(v1, t0)).status == 201
    assert api.push(built(v2, t0 + dt.timedelta(days=2))).status == 201
    assert api.push(statement(v3)).status == 201

    def deploy(d: str, hours: float, **fields: Any) -> None:
        at = z(t0 + dt.timedelta(hours=hours))
        r = api.record(digest=d, observed_at=at, **fields)
        assert r.status in (200, 201), r.body

    deploy(v1, 4)  # lead 4h
    deploy(v2, 50)  # lead 2h after its build (t0 + 48h); rolled back 2h later: failed
    deploy(v1, 52)  # a rollback deployment: lead 52h, not failed (still running)
    deploy(v3, 60, deployment_name="worker")  # built "now": negative lead, left out
    deploy(v3, 61, deployment_name="worker", status="decommissioned")  # failed, never restored
    return api, t0


def test_the_seed_workflow_with_a_rollback(seeded: tuple[ApiHarness, dt.datetime]) -> None:
    api, t0 = seeded
    r = api.get(
        "/v1/metrics/dora",
        params={
            "logical_environment": "production",
            "since": z(t0),
            "until": z(t0 + dt.timedelta(days=4)),
        },
    )
    assert r.status == 200, r.body
    assert r.json() == {
        "deployments": 4,
        "deployment_frequency_per_day": 1.0,
        "lead_time_seconds": {"p50": 4 * 3600.0, "p90": pytest.approx(42.4 * 3600)},
        "change_failure_rate": 0.5,
        "time_to_restore_seconds": {"p50": 2 * 3600.0, "p90": 2 * 3600.0},
        "window": r.json()["window"],
    }
    assert ts(r.json()["window"]["from"]) == t0
    # A failure window shorter than the 2 h to the rollback: nothing failed but the
    # decommission an hour after its deployment.
    r = api.get(
        "/v1/metrics/dora",
        params={
            "logical_environment": "production",
            "since": z(t0),
            "until": z(t0 + dt.timedelta(days=4)),
            "failure_window": "90m",
        },
    )
    assert r.json()["change_failure_rate"] == 0.25
    assert r.json()["time_to_restore_seconds"] == {"p50": None, "p90": None}


def test_default_window_is_the_last_30_days(seeded: tuple[ApiHarness, dt.datetime]) -> None:
    api, _ = seeded
    before = dt.datetime.now(dt.UTC)
    body = api.get("/v1/metrics/dora", params={"logical_environment": "production"}).json()
    after = dt.datetime.now(dt.UTC)
    start, end = ts(body["window"]["from"]), ts(body["window"]["to"])
    assert before <= end <= after and end - start == dt.timedelta(days=30)
    assert body["deployments"] == 4
    assert body["deployment_frequency_per_day"] == pytest.approx(4 / 30)
    one = api.get(
        "/v1/metrics/dora",
        params={"logical_environment": "production", "deployment_name": "worker", "since": "30d"},
    ).json()
    assert (one["deployments"], one["change_failure_rate"]) == (1, 1.0)
    assert one["lead_time_seconds"] == {"p50": None, "p90": None}
    assert one["time_to_restore_seconds"] == {"p50": None, "p90": None}


def test_no_deployments(api: ApiHarness) -> None:
    body = api.get("/v1/metrics/dora", params={"logical_environment": "staging"}).json()
    assert body["deployments"] == 0
    assert body["deployment_frequency_per_day"] == 0.0
    assert body["change_failure_rate"] is None
    assert (
        body["lead_time_seconds"] == body["time_to_restore_seconds"] == {"p50": None, "p90": None}
    )


def test_an_absent_workload_is_no_failure_and_a_decommission_is(api: ApiHarness) -> None:
    """A sync's `absent` (the workload was not listed) is not a failure signal (SPEC §8)."""
    api.env("k8s-east")
    a, b = digest("a"), digest("b")
    api.attest(a, b)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=10)
    snapshot = {"logical_environment": "production", "deployments": []}
    for name, d in (("web", a), ("db", b)):
        workload = {"deployment_name": name, "kind": "CONTAINER_IMAGE", "digest": d}
        r = api.post(
            "/v1/environments/k8s-east/snapshots",
            {**snapshot, "scope": name, "observed_at": z(t0), "deployments": [workload]},
        )
        assert r.status == 200, r.body
    r = api.post(
        "/v1/environments/k8s-east/snapshots",
        {**snapshot, "scope": "web", "observed_at": z(t0 + dt.timedelta(hours=1))},
    )
    assert r.json()["decommissioned"][0]["ended_reason"] == "absent"
    body = api.get("/v1/metrics/dora", params={"logical_environment": "production"}).json()
    assert (body["deployments"], body["change_failure_rate"]) == (2, 0.0)
    r = api.record(
        deployment_name="db",
        digest=b,
        status="decommissioned",
        observed_at=z(t0 + dt.timedelta(hours=2)),
    )
    assert r.status == 200, r.body
    body = api.get("/v1/metrics/dora", params={"logical_environment": "production"}).json()
    assert body["change_failure_rate"] == 0.5


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"logical_environment": "nowhere"}, 404),
        ({"logical_environment": "production", "environment": "nowhere"}, 404),
        ({}, 422),
        ({"logical_environment": "production", "since": "yesterday"}, 422),
        ({"logical_environment": "production", "since": "2026-11-01T10:00:00"}, 422),
        ({"logical_environment": "production", "until": "2026-13-01T00:00:00Z"}, 422),
        ({"logical_environment": "production", "failure_window": "forever"}, 422),
        ({"logical_environment": "production", "failure_window": "0s"}, 422),
        (
            {
                "logical_environment": "production",
                "since": "2026-11-02T00:00:00Z",
                "until": "2026-11-01T00:00:00Z",
            },
            422,
        ),
        ({"logical_environment": "Production!"}, 422),
        ({"logical_environment": "production", "deployment_name": "Not_A_Name"}, 422),
    ],
)
def test_bad_requests(api: ApiHarness, params: dict[str, str], status: int) -> None:
    r = api.get("/v1/metrics/dora", params=params)
    assert r.status == status, r.body
    assert r.json()["error"]["message"]


def test_cli_fields_and_json(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("environment", "create", "k8s-east").code == 0
    v1, v2 = digest("v1"), digest("v2")
    now = dt.datetime.now(dt.UTC)
    for d, hours in ((v1, 30), (v2, 10)):
        path = tmp_path / f"{d[7:15]}.json"
        path.write_bytes(built(d, now - dt.timedelta(hours=hours)))
        assert cli("attestation", "push", str(path)).code == 0
    base = ["deployment", "record", "--env", "k8s-east", "--logical-env", "production"]
    base += ["--deployment-name", "api", "--kind", "CONTAINER_IMAGE"]
    for d, hours in ((v1, 6), (v2, 5), (v1, 4)):
        at = z(now - dt.timedelta(hours=hours))
        assert cli(*base, "--digest", d, "--observed-at", at).code == 0
    r = cli("metrics", "dora", "--logical-env", "production", "-o", "json")
    assert r.code == 0, r.err
    body = r.json()
    assert body["deployments"] == 3 and body["change_failure_rate"] == pytest.approx(1 / 3)
    r = cli("metrics", "dora", "--logical-env", "production", "--since", "7d")
    assert r.code == 0, r.err
    shown = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in r.out.splitlines())
    assert shown["deployments"] == "3 (0.43 per day)"
    assert shown["change failure rate"] == "33.3% (1 of 3 failed)"
    assert shown["time to restore"] == "p50 1h, p90 1h"
    assert shown["lead time"] == "p50 1d, p90 1d1h"  # 5h, 24h, 26h
    assert cli("metrics", "dora", "--logical-env", "qa").code == 3
    assert cli("metrics", "dora", "--logical-env", "production", "--until", "soon").code == 7
    assert cli("metrics", "dora").code == 2
