"""Several server processes over one PostgreSQL never produce two active records in a slot."""

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

WRITERS = 24


def _record(cluster: Cluster, bodies: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Send every body at once, from its own thread, alternating between replicas."""
    barrier = threading.Barrier(len(bodies))
    results: list[tuple[int, dict[str, Any]]] = [(0, {})] * len(bodies)

    def run(i: int) -> None:
        with cluster.client(i) as c:
            barrier.wait()
            r = c.post("/v1/deployments", json=bodies[i])
            results[i] = (r.status_code, r.json())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _body(d: str, status: str = "deployed") -> dict[str, Any]:
    return {
        "environment": "k8s-east",
        "logical_environment": "production",
        "deployment_name": "api-server",
        "kind": "CONTAINER_IMAGE",
        "digest": d,
        "status": status,
    }


def _rows(cluster: Cluster) -> list[Any]:
    db = Database(cluster.database_url)
    with db.read() as conn:
        rows = list(conn.execute(text("SELECT * FROM deployment_records ORDER BY seq")))
    db.dispose()
    return rows


@pytest.fixture(autouse=True)
def _attested(two_replicas: Cluster) -> None:
    two_replicas.attest(*(digest(i) for i in range(WRITERS)), digest("same"))


def test_concurrent_different_digests_one_active_and_a_chain(two_replicas: Cluster) -> None:
    results = _record(two_replicas, [_body(digest(i)) for i in range(WRITERS)])
    assert all(status in (200, 201) for status, _ in results), results
    assert Counter(body["action"] for _, body in results) == Counter(
        {"created": 1, "superseded_previous": WRITERS - 1}
    )
    rows = _rows(two_replicas)
    assert len(rows) == WRITERS
    active = [r for r in rows if r.status == "deployed"]
    assert len(active) == 1
    ids = {r.id for r in rows}
    successors = {r.superseded_by for r in rows if r.status == "superseded"}
    assert len(successors) == WRITERS - 1  # each record superseded by a different one
    assert successors <= ids  # every pointer names a stored record
    # The pointers from the first record visit every record once and end at the active one.
    by_id = {r.id: r for r in rows}
    heads = ids - successors
    assert len(heads) == 1
    chain = [heads.pop()]
    while by_id[chain[-1]].superseded_by is not None:
        chain.append(by_id[chain[-1]].superseded_by)
    assert len(chain) == WRITERS and chain[-1] == active[0].id


def test_concurrent_identical_records_make_one_record(two_replicas: Cluster) -> None:
    results = _record(two_replicas, [_body(digest("same")) for _ in range(WRITERS)])
    assert sorted(status for status, _ in results) == [200] * (WRITERS - 1) + [201]
    assert Counter(body["action"] for _, body in results) == Counter(
        {"created": 1, "heartbeat": WRITERS - 1}
    )
    assert len({body["id"] for _, body in results}) == 1
    rows = _rows(two_replicas)
    assert len(rows) == 1 and rows[0].heartbeats == WRITERS - 1


def test_concurrent_mixed_traffic_keeps_the_invariant(two_replicas: Cluster) -> None:
    bodies = []
    for i in range(WRITERS):
        d = digest(i % 4)
        bodies.append(_body(d, "decommissioned" if i % 5 == 0 else "deployed"))
    results = _record(two_replicas, bodies)
    assert all(status in (200, 201, 404, 409) for status, _ in results), results
    rows = _rows(two_replicas)
    assert sum(r.status == "deployed" for r in rows) <= 1
    ids = {r.id for r in rows}
    assert all(r.superseded_by in ids for r in rows if r.status == "superseded")
