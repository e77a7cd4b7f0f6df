"""A snapshot sync tells subscribers what runs without evidence (`workload.unattested`,
once per workload), its audited changes become events like any other, and /metrics counts
unattested workloads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from deploytrace.storage import outbox
from tests.events.test_cli_and_metrics import _value
from tests.support.api import ApiHarness
from tests.support.digests import digest
from tests.support.postgres import free_port

A, X = digest("attested"), digest("no evidence")


def _sync(api: ApiHarness, *pairs: tuple[str, str]) -> Any:
    body = {
        "logical_environment": "production",
        "deployments": [
            {"deployment_name": n, "kind": "CONTAINER_IMAGE", "digest": d} for n, d in pairs
        ],
    }
    r = api.post("/v1/environments/k8s-east/snapshots", body)
    assert r.status == 200, r.body
    return r.json()


def _emitted(api: ApiHarness, type_: str) -> list[Any]:
    with api.db.read() as conn:
        rows = conn.execute(
            select(outbox.events.c.subject, outbox.events.c.data).where(
                outbox.events.c.type == type_
            )
        )
        return [(row.subject, row.data) for row in rows]


def test_unattested_workloads_are_announced_once(events_api: ApiHarness) -> None:
    api = events_api
    api.env("k8s-east")
    api.attest(A)
    r = api.post("/v1/webhooks", {"url": f"http://127.0.0.1:{free_port()}/in"})
    assert r.status == 201, r.body
    _sync(api, ("api", A), ("miner", X))
    events = _emitted(api, "workload.unattested")
    assert [s for s, _ in events] == ["workload/k8s-east/production/miner/CONTAINER_IMAGE"]
    assert events[0][1]["digest"] == X and events[0][1]["reason"] == "not_attested"
    _sync(api, ("api", A), ("miner", X))  # still there: not news
    assert len(_emitted(api, "workload.unattested")) == 1
    text = api.get("/metrics").body.decode()
    assert (
        _value(
            text,
            "deploytrace_workloads_unattested",
            environment="k8s-east",
            logical_environment="production",
        )
        == 1
    )
