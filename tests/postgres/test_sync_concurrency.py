"""Snapshot syncs against two server processes over one PostgreSQL: concurrent syncs of
one scope serialize, and a sync never interleaves with single reports of its space."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text

from deploytrace.storage.db import Database
from tests.postgres.conftest import Cluster
from tests.support.digests import digest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

NAMES = [f"svc-{i}" for i in range(40)]


def _snapshot(version: int, names: list[str]) -> dict[str, Any]:
    return {
        "logical_environment": "production",
        "deployments": [
            {"deployment_name": n, "kind": "CONTAINER_IMAGE", "digest": digest(f"{n}-{version}")}
            for n in names
        ],
    }


def _at_once(cluster: Cluster, calls: list[tuple[str, dict[str, Any]]]) -> list[int]:
    barrier = threading.Barrier(len(calls))
    statuses = [0] * len(calls)

    def run(i: int) -> None:
        path, body = calls[i]
        with cluster.client(i) as c:
            barrier.wait()
            r = c.post(path, json=body)
            statuses[i] = r.status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def _active(cluster: Cluster) -> list[Any]:
    db = Database(cluster.database_url)
    with db.read() as conn:
        rows = list(
            conn.execute(
                text(
                    "SELECT deployment_name, artifact_digest FROM deployment_records "
                    "WHERE status = 'deployed'"
                )
            )
        )
    db.dispose()
    return rows


def test_concurrent_syncs_of_one_scope_serialize(two_replicas: Cluster) -> None:
    versions = range(6)
    two_replicas.attest(*[digest(f"{n}-{v}") for n in NAMES for v in versions])
    path = "/v1/environments/k8s-east/snapshots"
    # Each snapshot lists a different subset: every slot ends as the last applied one says.
    snapshots = [_snapshot(v, NAMES[v : v + 30]) for v in versions]
    statuses = _at_once(two_replicas, [(path, s) for s in snapshots])
    assert statuses == [200] * len(snapshots)
    rows = _active(two_replicas)
    counts = Counter(name for name, _ in rows)
    assert all(c == 1 for c in counts.values()), counts
    # The final state is exactly one of the snapshots (the one applied last), whole.
    state = dict(rows)
    assert any(
        state == {w["deployment_name"]: w["digest"] for w in s["deployments"]} for s in snapshots
    ), state


def test_syncs_and_single_reports_of_one_space(two_replicas: Cluster) -> None:
    two_replicas.attest(*[digest(f"{n}-{v}") for n in NAMES for v in range(3)])
    path = "/v1/environments/k8s-east/snapshots"
    calls: list[tuple[str, dict[str, Any]]] = [(path, _snapshot(v, NAMES)) for v in range(3)]
    for i, name in enumerate(NAMES[:12]):
        calls.append(
            (
                "/v1/deployments",
                {
                    "environment": "k8s-east",
                    "logical_environment": "production",
                    "deployment_name": name,
                    "kind": "CONTAINER_IMAGE",
                    "digest": digest(f"{name}-{i % 3}"),
                },
            )
        )
    statuses = _at_once(two_replicas, calls)
    assert set(statuses) <= {200, 201}, statuses
    counts = Counter(name for name, _ in _active(two_replicas))
    assert set(counts) == set(NAMES) and set(counts.values()) == {1}
    db = Database(two_replicas.database_url)
    with db.read() as conn:
        overlaps = conn.execute(
            text(
                "SELECT count(*) FROM deployment_records a JOIN deployment_records b "
                "ON a.slot_id = b.slot_id AND a.seq < b.seq "
                "WHERE a.ended_at IS NULL OR a.ended_at > b.created_at"
            )
        ).scalar()
    db.dispose()
    assert overlaps == 0  # a slot's records never overlap in time
