"""Delivery with real processes: `deploytrace server` replicas and a receiver process.

What is proven: every event arrives, signed (the library's verifier and the scheme
recomputed), as a CloudEvent, in order per slot, through receiver failures, slow
answers and outages; a given-up event does not hold its slot's later events; a server
killed between commit and delivery, or in the middle of an attempt, loses nothing;
two replicas on PostgreSQL never make one attempt twice.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from deploytrace.storage.db import Database
from tests.events.checks import expected_in_order, received_in_order, workflow
from tests.events.conftest import Receiver, Servers
from tests.support.digests import digest
from tests.support.statements import statement

pytestmark = [pytest.mark.slow]


def _subscribe(servers: Servers, server: Any, receiver: Receiver, **body: Any) -> dict[str, Any]:
    with servers.client(server) as c:
        r = c.post("/v1/webhooks", json={"url": receiver.url, **body})
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
    return created


def _all_arrived(expected: dict[str, list[tuple[str, str]]]) -> Any:
    total = sum(len(v) for v in expected.values())

    def check(requests: list[dict[str, Any]]) -> bool:
        return len({r["id"] for r in requests if 200 <= r["status"] < 300}) >= total

    return check


def test_every_event_arrives_signed_and_in_order_through_failures(
    servers: Servers, receiver: Receiver
) -> None:
    receiver.start("--fail-first", "2", "--delay", "0.01")
    server = servers.start()
    hook = _subscribe(servers, server, receiver)
    with servers.client(server) as c:
        workflow(c)
        expected = expected_in_order(c)
    seen = receiver.wait_for(_all_arrived(expected), "every event")
    assert received_in_order(hook["secret"], seen) == expected
    kinds = {t for events in expected.values() for t, _ in events}
    assert {
        "webhook.created",
        "environment.created",
        "environment.updated",
        "logical_environment.created",
        "attestation.pushed",
        "deployment.created",
        "deployment.superseded",
        "deployment.decommissioned",
        "token.created",
        "token.revoked",
    } <= kinds
    # Every event was refused twice first: three requests each, all logged as attempts.
    ids = [r["id"] for r in seen]
    assert all(ids.count(i) == 3 for i in set(ids))
    with servers.client(server) as c:
        attempts = c.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 500}).json()
    assert {a["attempt"] for a in attempts["items"]} == {1, 2, 3}
    assert all(a["state"] == "delivered" for a in attempts["items"])
    assert sum(a["delivered"] for a in attempts["items"]) == len(set(ids))
    failed = [a for a in attempts["items"] if not a["delivered"]]
    assert failed and all(a["status_code"] == 503 and a["error"] == "HTTP 503" for a in failed)


def test_a_receiver_outage_delays_but_loses_nothing(servers: Servers, receiver: Receiver) -> None:
    server = servers.start()
    hook = _subscribe(servers, server, receiver)
    with servers.client(server) as c:
        workflow(c, slots=2)
        expected = expected_in_order(c)
        # Down: attempts fail to connect and are retried (50 ms, 300 ms, 1.2 s ... here).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            items = c.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
            if any(a["attempt"] >= 3 for a in items):
                break
            time.sleep(0.1)
        assert items and not any(a["delivered"] for a in items)
        assert all(a["status_code"] is None and a["error"] for a in items)
    receiver.start()
    seen = receiver.wait_for(_all_arrived(expected), "every event after the outage")
    assert received_in_order(hook["secret"], seen) == expected


def test_an_answer_slower_than_the_timeout_is_retried(servers: Servers, receiver: Receiver) -> None:
    receiver.start("--delay-first", "1.5")
    server = servers.start(DEPLOYTRACE_WEBHOOK_TIMEOUT="0.5")
    hook = _subscribe(servers, server, receiver, events=["deployment.*"])
    with servers.client(server) as c:
        workflow(c, slots=2)
        expected = {
            k: v
            for k, v in expected_in_order(c).items()
            if any(t.startswith("deployment.") for t, _ in v)
        }
        seen = receiver.wait_for(_all_arrived(expected), "every deployment event")
        items = c.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 500}).json()
    assert received_in_order(hook["secret"], seen) == expected
    timeouts = [a for a in items["items"] if not a["delivered"]]
    assert timeouts and all(a["error"] == "no answer within 0.5 s" for a in timeouts)


def test_a_given_up_event_is_marked_failed_and_its_slot_moves_on(
    servers: Servers, receiver: Receiver
) -> None:
    receiver.start("--fail-match", "broken-build")
    # 24 h of retries shrunk to ~4 s (5 s -> 0.25 ms ... hourly -> 0.18 s).
    server = servers.start(DEPLOYTRACE_WEBHOOK_TIME_SCALE="0.00005")
    hook = _subscribe(servers, server, receiver, events=["deployment.created"])
    d1, d2 = digest("broken"), digest("fixed")
    slot = {
        "environment": "k8s-east",
        "logical_environment": "production",
        "deployment_name": "api",
        "kind": "CONTAINER_IMAGE",
    }
    with servers.client(server) as c:
        assert c.post("/v1/environments", json={"name": "k8s-east"}).status_code == 201
        pushed = c.post(
            "/v1/attestations",
            content=statement(d1, d2),
            headers={"content-type": "application/octet-stream"},
        )
        assert pushed.status_code in (200, 201)
        first = c.post(
            "/v1/deployments", json={**slot, "digest": d1, "artifact_version": "broken-build"}
        ).json()
        second = c.post("/v1/deployments", json={**slot, "digest": d2}).json()
        seen = receiver.wait_for(
            lambda rs: any(r["status"] == 204 for r in rs), "the later event", timeout=60
        )
        items = c.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 500}).json()
    refused = [r for r in seen if r["status"] == 500]
    delivered = [r for r in seen if r["status"] == 204]
    assert len(delivered) == 1 and f"deployment/{second['id']}" in delivered[0]["body"]
    # The later event went out only after the earlier one was given up.
    assert len(refused) > 10 and max(r["start"] for r in refused) < delivered[0]["start"]
    gave_up = [a for a in items["items"] if a["subject"] == f"deployment/{first['id']}"]
    assert {a["state"] for a in gave_up} == {"failed"}
    assert len(gave_up) == len(refused)


def test_sigkill_between_commit_and_delivery_loses_nothing(
    servers: Servers, receiver: Receiver
) -> None:
    receiver.start()
    # This replica commits events but sends none: killed, they are only in the database.
    silent = servers.start(DEPLOYTRACE_WEBHOOK_DELIVERY="0")
    hook = _subscribe(servers, silent, receiver)
    with servers.client(silent) as c:
        workflow(c, slots=2)
        expected = expected_in_order(c)
    silent.process.kill()
    silent.process.wait(10)
    assert receiver.requests() == []
    servers.start()
    seen = receiver.wait_for(_all_arrived(expected), "every event after the restart")
    assert received_in_order(hook["secret"], seen) == expected


def test_sigkill_during_an_attempt_is_retried_after_the_lease(
    servers: Servers, receiver: Receiver
) -> None:
    receiver.start("--delay-first", "1.5")
    # Lease: 2 x timeout + 5 s = 9 s after the claim.
    victim = servers.start(DEPLOYTRACE_WEBHOOK_TIMEOUT="2")
    hook = _subscribe(servers, victim, receiver, events=["environment.created"])
    with servers.client(victim) as c:
        assert c.post("/v1/environments", json={"name": "k8s-east"}).status_code == 201
    time.sleep(0.7)  # the attempt is in flight: the receiver holds it for 1.5 s
    victim.process.kill()
    victim.process.wait(10)
    claimed_at = time.time()
    survivor = servers.start()
    seen = receiver.wait_for(lambda rs: len(rs) >= 2, "the attempt again", timeout=30)
    assert len({r["id"] for r in seen}) == 1
    again = max(seen, key=lambda r: r["start"])
    assert again["start"] > claimed_at + 5  # not before the lease ended
    with servers.client(survivor) as c:
        items = c.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
    # The killed replica never recorded its attempt; the second one is the delivery.
    assert [(a["attempt"], a["delivered"]) for a in items] == [(2, True)]
    received_in_order(hook["secret"], seen)  # signatures verify


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
def test_two_replicas_never_make_one_attempt_twice(servers: Servers, receiver: Receiver) -> None:
    receiver.start("--fail-first", "1", "--delay", "0.02")
    a, b = servers.start(), servers.start()
    hook = _subscribe(servers, a, receiver, events=["deployment.*"])
    digests = [digest(f"r-{i}") for i in range(4)]
    with servers.client(a) as c:
        assert c.post("/v1/environments", json={"name": "k8s-east"}).status_code == 201
        pushed = c.post(
            "/v1/attestations",
            content=statement(*digests),
            headers={"content-type": "application/octet-stream"},
        )
        assert pushed.status_code in (200, 201)

    def report(server: Any, slots: range) -> None:
        with servers.client(server) as c:
            for d in digests:
                for s in slots:
                    body = {
                        "environment": "k8s-east",
                        "logical_environment": "production",
                        "deployment_name": f"svc-{s}",
                        "kind": "CONTAINER_IMAGE",
                        "digest": d,
                    }
                    assert c.post("/v1/deployments", json=body).status_code == 201

    threads = [
        threading.Thread(target=report, args=(a, range(0, 12))),
        threading.Thread(target=report, args=(b, range(12, 24))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with servers.client(a) as c:
        expected = {k: v for k, v in expected_in_order(c).items() if k.startswith("k8s-east/")}
    total = sum(len(v) for v in expected.values())
    assert total == 24 * 4 + 24 * 3  # created, and superseded + created
    seen = receiver.wait_for(_all_arrived(expected), "every event", timeout=120)
    assert received_in_order(hook["secret"], seen) == expected
    by_id: dict[str, list[dict[str, Any]]] = {}
    for r in seen:
        by_id.setdefault(r["id"], []).append(r)
    # Each event: one refused attempt, one delivered, never at the same time.
    assert all(len(rs) == 2 for rs in by_id.values()), max(len(rs) for rs in by_id.values())
    for rs in by_id.values():
        first, second = sorted(rs, key=lambda r: r["start"])
        assert first["end"] <= second["start"]
    # Both replicas delivered (their own process metrics say so).
    for server in (a, b):
        with servers.client(server) as c:
            text = c.get("/metrics").text
        line = next(
            x for x in text.splitlines() if x.startswith("deploytrace_webhook_attempts_total{")
        )
        assert float(line.split()[-1]) > 0, text


def test_the_server_announces_a_stale_record_once(servers: Servers, receiver: Receiver) -> None:
    receiver.start()
    server = servers.start(DEPLOYTRACE_STALE_CHECK_SECONDS="0.2")
    hook = _subscribe(servers, server, receiver, events=["deployment.stale"])
    d1 = digest("stale")
    with servers.client(server) as c:
        assert c.post("/v1/environments", json={"name": "k8s-east"}).status_code == 201
        pushed = c.post(
            "/v1/attestations",
            content=statement(d1),
            headers={"content-type": "application/octet-stream"},
        )
        assert pushed.status_code in (200, 201)
        body = {
            "environment": "k8s-east",
            "logical_environment": "production",
            "deployment_name": "api",
            "kind": "CONTAINER_IMAGE",
            "digest": d1,
        }
        record = c.post("/v1/deployments", json=body).json()
    # `environment update --stale-after 1s` (SPEC §7; set here through the table).
    db = Database(servers.database_url)
    with db.write() as conn:
        conn.execute(sa.text("UPDATE environments SET stale_after_seconds = 1"))
    db.dispose()
    seen = receiver.wait_for(lambda rs: len(rs) >= 1, "deployment.stale", timeout=30)
    time.sleep(1.5)  # several more checks: no second announcement
    seen = receiver.requests()
    assert len(seen) == 1
    (event,) = received_in_order(hook["secret"], seen).values()
    assert event == [("deployment.stale", f"deployment/{record['id']}")]
    data = json.loads(seen[0]["body"])["data"]
    assert data["slot"] == "k8s-east/production/api/CONTAINER_IMAGE"
    assert data["stale_after_seconds"] == 1 and data["digest"] == d1
