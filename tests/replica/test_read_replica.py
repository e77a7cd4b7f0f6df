"""SPEC §12: reads from a real streaming replica, with fallback and read-your-writes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from tests.replica.conftest import ReplicaApi
from tests.support.digests import digest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MakeApi = Callable[..., ReplicaApi]
RECORDS = "deployment_records"


def _setup(r: ReplicaApi) -> None:
    r.api.env("k8s-east")


def _record(r: ReplicaApi, n: int, name: str = "api-server") -> str:
    reply = r.api.record(digest=digest(n), deployment_name=name)
    assert reply.status in (200, 201), reply.body
    return str(reply.json()["id"])


def _listed(r: ReplicaApi, *, history: bool = True) -> set[str]:
    reply = r.api.get("/v1/deployments", params={"history": history, "limit": 500})
    assert reply.status == 200, reply.body
    return {item["id"] for item in reply.json()["items"]}


def _caught_up_and_ok(r: ReplicaApi) -> None:
    r.cluster.wait_caught_up()
    replica = r.wait_replica("ok")
    assert replica["lag_seconds"] == 0


def test_reads_come_from_the_replica_after_catch_up(replica_api: MakeApi) -> None:
    r = replica_api(read_max_lag=60)
    _setup(r)
    first = _record(r, 1)
    _caught_up_and_ok(r)

    mark = r.mark()
    assert first in _listed(r)
    assert r.served_by(mark, RECORDS) == {"replica"}

    mark = r.mark()
    shown = r.api.get(f"/v1/deployments/{first}")
    assert shown.status == 200 and shown.json()["id"] == first
    assert r.served_by(mark, RECORDS) == {"replica"}

    # Replay paused: a new record is on the primary only. Lists come from the
    # replica (within the limit), so they do not show it yet ...
    r.cluster.pause()
    second = _record(r, 2, name="worker")
    assert _listed(r) == {first}
    # ... but a read by id that the replica cannot answer is retried on the primary.
    mark = r.mark()
    shown = r.api.get(f"/v1/deployments/{second}")
    assert shown.status == 200, shown.body
    assert shown.json()["id"] == second
    assert r.served_by(mark, RECORDS) == {"replica", "primary"}

    r.cluster.resume()
    r.cluster.wait_caught_up()
    assert _listed(r) == {first, second}


def test_reads_fall_back_to_the_primary_past_the_lag_limit_and_come_back(
    replica_api: MakeApi,
) -> None:
    r = replica_api(read_max_lag=1)
    _setup(r)
    first = _record(r, 1)
    _caught_up_and_ok(r)

    r.cluster.pause()
    second = _record(r, 2, name="worker")
    replica = r.wait_replica("lagging", timeout=20)
    assert isinstance(replica["lag_seconds"], float) and replica["lag_seconds"] > 1
    assert replica["max_lag_seconds"] == 1

    mark = r.mark()
    assert _listed(r) == {first, second}  # from the primary, so nothing is missing
    assert r.served_by(mark, RECORDS) == {"primary"}

    r.cluster.resume()
    r.wait_replica("ok", timeout=20)
    mark = r.mark()
    assert _listed(r) == {first, second}
    assert r.served_by(mark, RECORDS) == {"replica"}


def test_an_idle_primary_does_not_make_the_replica_lag(replica_api: MakeApi) -> None:
    # Replay time grows while nothing is written; the position does not.
    r = replica_api(read_max_lag=1)
    _setup(r)
    _record(r, 1)
    _caught_up_and_ok(r)
    time.sleep(3)
    replica = r.readyz()["replica"]
    assert isinstance(replica, dict)
    assert replica["status"] == "ok" and replica["lag_seconds"] == 0
    mark = r.mark()
    _listed(r)
    assert r.served_by(mark, RECORDS) == {"replica"}


def test_reads_use_the_primary_while_the_standby_is_stopped(replica_api: MakeApi) -> None:
    r = replica_api(read_max_lag=60)
    _setup(r)
    first = _record(r, 1)
    _caught_up_and_ok(r)
    assert _listed(r) == {first}  # the replica pool now holds a live connection

    r.cluster.standby.stop("fast")
    for _ in range(3):
        mark = r.mark()
        assert _listed(r) == {first}
        shown = r.api.get(f"/v1/deployments/{first}")
        assert shown.status == 200, shown.body
        assert "primary" in r.served_by(mark, RECORDS)
    second = _record(r, 2, name="worker")
    assert _listed(r) == {first, second}

    replica = r.wait_replica("down")
    assert replica["lag_seconds"] is None
    assert r.readyz()["database"] == {"status": "ok"}

    r.cluster.standby.start()
    r.api.db.replica.refresh()  # type: ignore[union-attr]
    r.wait_replica("ok", timeout=30)
    mark = r.mark()
    assert _listed(r) == {first, second}
    assert r.served_by(mark, RECORDS) == {"replica"}


def test_a_replica_connection_lost_mid_read_is_retried_on_the_primary(
    replica_api: MakeApi,
) -> None:
    r = replica_api(read_max_lag=60)
    _setup(r)
    first = _record(r, 1)
    _caught_up_and_ok(r)
    for _attempt in range(5):
        r.wait_replica("ok")
        started = time.monotonic()
        assert _listed(r) == {first}  # leaves a pooled replica connection behind
        assert r.cluster.terminate_reads() >= 1
        mark = r.mark()
        assert _listed(r) == {first}  # never a 503
        # A connection idle for 2 s is checked before use and replaced, which
        # would hide the failure this test is about: then try again.
        if time.monotonic() - started < 1.5:
            break
    served = r.served_by(mark, RECORDS)
    assert "primary" in served, served


def test_a_write_then_a_read_by_id_never_404s(replica_api: MakeApi) -> None:
    r = replica_api(read_max_lag=60)
    _setup(r)
    _record(r, 1)
    _caught_up_and_ok(r)
    r.cluster.pause()
    for n in range(2, 7):
        record_id = _record(r, n)
        shown = r.api.get(f"/v1/deployments/{record_id}")
        assert shown.status == 200, shown.body
        assert shown.json()["id"] == record_id
        assert shown.json()["status"] == "deployed"
    # What exists nowhere is still a 404, after asking the primary too.
    mark = r.mark()
    missing = r.api.get(f"/v1/deployments/{uuid.uuid4()}")
    assert missing.status == 404
    assert missing.error_code == "not_found"
    assert r.served_by(mark, RECORDS) == {"replica", "primary"}


def test_a_client_asking_for_the_primary_reads_from_it(replica_api: MakeApi) -> None:
    r = replica_api(read_max_lag=60)
    _setup(r)
    first = _record(r, 1)
    _caught_up_and_ok(r)
    r.cluster.pause()
    second = _record(r, 2, name="worker")
    assert _listed(r) == {first}
    mark = r.mark()
    reply = r.api.get(
        "/v1/deployments",
        params={"history": True},
        headers={"deploytrace-read-primary": "1"},
    )
    assert {item["id"] for item in reply.json()["items"]} == {first, second}
    assert r.served_by(mark, RECORDS) == {"primary"}


def test_writes_and_authentication_use_the_primary(replica_api: MakeApi) -> None:
    r = replica_api(read_max_lag=60)
    _setup(r)
    _caught_up_and_ok(r)
    r.cluster.pause()
    # A token created and revoked while the replica cannot see either.
    made = r.api.post("/v1/tokens", {"name": "ci", "role": "viewer"})
    assert made.status == 201, made.body
    token = made.json()["token"]
    assert r.api.get("/v1/deployments", token=token).status == 200
    assert r.api.delete("/v1/tokens/ci").status == 200
    refused = r.api.get("/v1/deployments", token=token)
    assert refused.status == 401, refused.body
