"""`/v1/webhooks`, the outbox as the API fills it, `emit`, the stale check: both backends."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import time
import uuid
from typing import Any

import sqlalchemy as sa

from deploytrace.services import delivery, events
from deploytrace.storage.audit import audit_entries, audit_heads
from deploytrace.storage.db import Database
from tests.events.conftest import Receiver
from tests.support.api import ApiHarness
from tests.support.digests import digest
from tests.support.postgres import free_port

D1, D2, D3 = digest("one"), digest("two"), digest("three")


def _hook(api: ApiHarness, url: str = "https://hooks.example/in", **body: Any) -> dict[str, Any]:
    r = api.post("/v1/webhooks", {"url": url, **body})
    assert r.status == 201, r.body
    created: dict[str, Any] = r.json()
    return created


def _rows(db: Database, sql: str, **params: Any) -> list[Any]:
    """Rows of the outbox as the workers see it: after new audit entries were fanned out."""
    delivery.fan_out(db)
    with db.read() as conn:
        return list(conn.execute(sa.text(sql), params))


def _queued(db: Database) -> list[tuple[str, str]]:
    """(event type, ordering key) of every delivery, in event order."""
    return [
        (r.type, r.ordering_key)
        for r in _rows(
            db,
            "SELECT e.type, d.ordering_key FROM webhook_deliveries d "
            "JOIN events e ON e.seq = d.event_seq ORDER BY d.id",
        )
    ]


def _token(api: ApiHarness, role: str) -> ApiHarness:
    r = api.post("/v1/tokens", {"name": f"{role}-token", "role": role})
    assert r.status == 201, r.body
    return ApiHarness(api.app, token=r.json()["token"], db=api.db)


def test_create_shows_the_secret_once_and_stores_it_sealed(events_api: ApiHarness) -> None:
    created = _hook(events_api, events=["deployment.*", "token.created"])
    assert set(created) >= {"id", "url", "events", "secret"}
    assert created["events"] == ["deployment.*", "token.created"]
    assert created["secret"].startswith("whsec_")
    listed = events_api.get("/v1/webhooks").json()["items"]
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in events_api.get(f"/v1/webhooks/{created['id']}").json()
    raw = created["secret"].removeprefix("whsec_")
    for table in ("webhooks", "audit_entries", "events"):
        for row in _rows(events_api.db, f"SELECT * FROM {table}"):
            assert raw not in str(tuple(row))
    audit = events_api.get("/v1/audit", params={"action": "webhook.created"}).json()["items"]
    assert audit[0]["target"] == f"webhook/{created['id']}"
    assert audit[0]["details"]["url"] == "https://hooks.example/in"


def test_every_event_by_default_and_patterns_filter(events_api: ApiHarness) -> None:
    everything = _hook(events_api)
    assert everything["events"] == ["*"]
    _hook(events_api, events=["deployment.created"])
    events_api.env("k8s-east")
    events_api.record(digest=D1)
    events_api.record(digest=D2)
    slot = "k8s-east/production/api-server/CONTAINER_IMAGE"
    per_hook = _rows(
        events_api.db,
        "SELECT d.webhook_id, e.type, d.ordering_key FROM webhook_deliveries d "
        "JOIN events e ON e.seq = d.event_seq ORDER BY d.id",
    )
    everything_id = uuid.UUID(everything["id"])
    mine = [
        (r.type, r.ordering_key) for r in per_hook if uuid.UUID(str(r.webhook_id)) == everything_id
    ]
    assert [t for t, _ in mine] == [
        "webhook.created",
        "webhook.created",  # the second webhook's
        "environment.created",
        "attestation.pushed",
        "deployment.created",
        "attestation.pushed",
        "deployment.superseded",
        "deployment.created",
    ]
    assert [k for t, k in mine if t.startswith("deployment.")] == [slot] * 3
    assert ("environment.created", "environment/k8s-east") in mine
    filtered = [
        (r.type, r.ordering_key) for r in per_hook if uuid.UUID(str(r.webhook_id)) != everything_id
    ]
    assert filtered == [("deployment.created", slot)] * 2


def test_orgs_without_webhooks_queue_nothing_and_orgs_are_apart(
    events_api: ApiHarness, db: Database
) -> None:
    events_api.env("k8s-east")
    events_api.record(digest=D1)
    assert _rows(db, "SELECT * FROM events") == []
    # Another organization subscribes: this one's events still go nowhere.
    from deploytrace.services import tenancy

    _, other_token = tenancy.bootstrap(db, "other")
    other = ApiHarness(events_api.app, token=other_token, db=db)
    _hook(other)
    events_api.record(digest=D2)
    assert [t for t, _ in _queued(db)] == ["webhook.created"]
    assert events_api.get("/v1/webhooks").json()["items"] == []


def test_bad_urls_are_refused_without_repeating_credentials(events_api: ApiHarness) -> None:
    for url in (
        "http://hooks.example/in",
        "file:///etc/passwd",
        "https://bob:pa55word@hooks.example/in",
    ):
        r = events_api.post("/v1/webhooks", {"url": url})
        assert r.status == 422, r.body
        assert r.error_code == "invalid"
        assert "pa55word" not in r.body.decode()
    bad_pattern = events_api.post("/v1/webhooks", {"url": "https://x.example", "events": ["a b"]})
    assert bad_pattern.status == 422
    assert events_api.get("/v1/webhooks").json()["items"] == []
    assert _rows(events_api.db, "SELECT * FROM webhooks") == []


def test_webhooks_are_for_admins(events_api: ApiHarness) -> None:
    hook = _hook(events_api)
    for role in ("writer", "viewer"):
        api = _token(events_api, role)
        assert api.post("/v1/webhooks", {"url": "https://x.example"}).status == 403
        assert api.get("/v1/webhooks").status == 403
        assert api.delete(f"/v1/webhooks/{hook['id']}").status == 403
        assert api.get(f"/v1/webhooks/{hook['id']}/deliveries").status == 403
        assert api.post(f"/v1/webhooks/{hook['id']}/test").status == 403
    assert events_api.get("/v1/webhooks", token=None).status == 401


def test_remove_stops_sending_and_is_audited(events_api: ApiHarness) -> None:
    hook = _hook(events_api)
    events_api.env("k8s-east")
    assert len(_queued(events_api.db)) == 2  # fanned out, waiting to be sent
    removed = events_api.delete(f"/v1/webhooks/{hook['id']}")
    assert removed.status == 200 and removed.json()["removed_at"] is not None
    assert events_api.get("/v1/webhooks").json()["items"] == []
    states = {r.state for r in _rows(events_api.db, "SELECT state FROM webhook_deliveries")}
    assert states == {"cancelled"}
    events_api.env("k8s-west")
    assert len(_queued(events_api.db)) == 2  # webhook.created, environment.created: no more
    assert events_api.delete(f"/v1/webhooks/{hook['id']}").status == 404
    assert events_api.post(f"/v1/webhooks/{hook['id']}/test").status == 404
    assert events_api.get(f"/v1/webhooks/{hook['id']}/deliveries").status == 200
    audit = events_api.get("/v1/audit", params={"action": "webhook.removed"}).json()["items"]
    assert audit[0]["target"] == f"webhook/{hook['id']}"
    for unknown in (str(uuid.uuid4()), "not-an-id"):
        assert events_api.delete(f"/v1/webhooks/{unknown}").status == 404


def test_test_sends_once_now_and_is_listed(events_api: ApiHarness, receiver: Receiver) -> None:
    receiver.start()
    hook = _hook(events_api, url=receiver.url, events=["deployment.*"])
    sent = events_api.post(f"/v1/webhooks/{hook['id']}/test")
    assert sent.status == 200, sent.body
    answer = sent.json()
    assert answer["delivered"] is True and answer["status_code"] == 204
    assert answer["type"] == "webhook.test"
    (request,) = receiver.requests()
    from tests.events.checks import verify

    event = verify(hook["secret"], request)
    assert event["type"] == "dev.deploytrace.webhook.test"
    assert event["id"] == answer["event_id"]
    # A receiver that is not there: one failed attempt, not retried.
    down = _hook(events_api, url=f"http://127.0.0.1:{free_port()}/in")
    failed = events_api.post(f"/v1/webhooks/{down['id']}/test").json()
    assert failed["delivered"] is False and failed["status_code"] is None
    assert failed["error"]
    listed = events_api.get(f"/v1/webhooks/{down['id']}/deliveries").json()["items"]
    assert [(a["type"], a["attempt"], a["delivered"], a["state"]) for a in listed] == [
        ("webhook.test", 1, False, "failed")
    ]
    # The test event went to its webhook only.
    assert [t for t, _ in _queued(events_api.db)].count("webhook.test") == 2


def test_deliveries_page_newest_first(events_api: ApiHarness, db: Database) -> None:
    hook = _hook(events_api, url=f"http://127.0.0.1:{free_port()}/in")
    for _ in range(3):
        events_api.post(f"/v1/webhooks/{hook['id']}/test")
    first = events_api.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = events_api.get(
        f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    ids = [a["event_id"] for a in first["items"] + rest["items"]]
    assert len(set(ids)) == 3
    times = [a["at"] for a in first["items"] + rest["items"]]
    assert times == sorted(times, reverse=True)


def test_emit_queues_events_for_subscribers_in_order(events_api: ApiHarness, db: Database) -> None:
    org_id = uuid.UUID(str(_rows(db, "SELECT id FROM organizations WHERE name = 'acme'")[0].id))
    with db.write() as conn:
        events.emit(conn, org_id, "workload.unattested", "workload/a", {"digest": D1})
    assert _rows(db, "SELECT * FROM events") == []  # nobody listens yet
    _hook(events_api, events=["workload.*"])
    with db.write() as conn:
        events.emit(conn, org_id, "workload.unattested", "workload/a", {"digest": D1})
        events.emit_many(
            conn,
            org_id,
            [
                events.NewEvent("workload.unattested", "workload/b", {"n": i}, "k8s-east/x")
                for i in range(3)
            ]
            + [events.NewEvent("deployment.stale", "deployment/x", {}, "k8s-east/x")],
        )
    with db.write() as conn:  # rolled back: nothing queued
        events.emit(conn, org_id, "workload.unattested", "workload/c", {})
        conn.rollback()
    rows = _rows(
        db,
        "SELECT e.type, e.subject, e.ordering_key, e.data FROM webhook_deliveries d "
        "JOIN events e ON e.seq = d.event_seq ORDER BY d.id",
    )
    assert [(r.subject, r.ordering_key) for r in rows] == [
        ("workload/a", "workload/a"),
        ("workload/b", "k8s-east/x"),
        ("workload/b", "k8s-east/x"),
        ("workload/b", "k8s-east/x"),
    ]
    datas = [r.data if isinstance(r.data, dict) else json.loads(r.data) for r in rows]
    assert [d.get("n") for d in datas[1:]] == [0, 1, 2]


def test_stale_records_are_announced_once(events_api: ApiHarness, db: Database) -> None:
    _hook(events_api, events=["deployment.stale"])
    events_api.env("k8s-east")
    events_api.env("k8s-west")
    stale = events_api.record(digest=D1).json()
    fresh = events_api.record(digest=D2, deployment_name="fresh").json()
    never = events_api.record(digest=D3, environment="k8s-west").json()
    with db.write() as conn:
        conn.execute(
            sa.text("UPDATE environments SET stale_after_seconds = 3600 WHERE name = 'k8s-east'")
        )
    now = dt.datetime.now(dt.UTC)
    assert events.announce_stale(db, now=now) == 0
    assert events.announce_stale(db, now=now + dt.timedelta(minutes=61)) == 2
    assert events.announce_stale(db, now=now + dt.timedelta(minutes=62)) == 0
    queued = _rows(
        db,
        "SELECT e.subject, e.ordering_key FROM webhook_deliveries d "
        "JOIN events e ON e.seq = d.event_seq WHERE e.type = 'deployment.stale' ORDER BY d.id",
    )
    assert {r.subject for r in queued} == {f"deployment/{stale['id']}", f"deployment/{fresh['id']}"}
    assert f"deployment/{never['id']}" not in {r.subject for r in queued}
    assert {r.ordering_key for r in queued} == {
        "k8s-east/production/api-server/CONTAINER_IMAGE",
        "k8s-east/production/fresh/CONTAINER_IMAGE",
    }
    # A heartbeat makes it fresh; going stale again is not announced again.
    events_api.record(digest=D1)
    assert events.announce_stale(db, now=now + dt.timedelta(hours=5)) == 0


def _audit(db: Database, org_id: uuid.UUID, position: int, action: str) -> None:
    """An audit entry written behind the services' back (the chain is not checked here)."""
    with db.write() as conn:
        conn.execute(
            sa.insert(audit_entries).values(
                org_id=org_id,
                position=position,
                created_at=dt.datetime.now(dt.UTC),
                actor="test",
                action=action,
                target=f"environment/e{position}",
                details={},
                prev_hash="0" * 64,
                hash="0" * 64,
            )
        )
        conn.execute(
            sa.update(audit_heads)
            .where(audit_heads.c.org_id == org_id, audit_heads.c.position < position)
            .values(position=position)
        )


def test_fan_out_copies_audit_entries_in_order_without_gaps(
    events_api: ApiHarness, db: Database
) -> None:
    events_api.env("before-the-webhook")
    hook = _hook(events_api, events=["environment.*"])
    org_id = uuid.UUID(str(_rows(db, "SELECT id FROM organizations WHERE name = 'acme'")[0].id))
    events_api.env("k8s-east")
    events_api.env("k8s-west")
    with db.read() as conn:
        head = conn.execute(
            sa.select(sa.func.max(audit_entries.c.position)).where(audit_entries.c.org_id == org_id)
        ).scalar_one()
    # An entry after one that is not visible yet waits for it.
    _audit(db, org_id, head + 2, "environment.created")
    assert [t for t, _ in _queued(db)] == ["environment.created", "environment.created"]
    _audit(db, org_id, head + 1, "environment.updated")
    assert delivery.fan_out(db) == 2  # both now, in position order
    queued = _rows(
        db,
        "SELECT e.id, e.type, e.subject FROM webhook_deliveries d "
        "JOIN events e ON e.seq = d.event_seq ORDER BY d.id",
    )
    assert [(r.type, r.subject) for r in queued] == [
        ("environment.created", "environment/k8s-east"),
        ("environment.created", "environment/k8s-west"),
        ("environment.updated", f"environment/e{head + 1}"),
        ("environment.created", f"environment/e{head + 2}"),
    ]
    # The entry before the webhook existed is not sent; ids are the entries' own.
    assert len({str(r.id) for r in queued}) == 4
    assert delivery.fan_out(db) == 0
    # All webhooks gone, then a new one: what was audited meanwhile is not sent.
    events_api.delete(f"/v1/webhooks/{hook['id']}")
    events_api.env("while-nobody-listens")
    _hook(events_api, events=["environment.*"])
    events_api.env("after")
    subjects = [
        r.subject
        for r in _rows(
            db,
            "SELECT e.subject FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq "
            "WHERE d.state = 'pending' ORDER BY d.id",
        )
    ]
    assert subjects == ["environment/after"]


def test_replicas_fanning_out_at_once_copy_each_entry_once(
    events_api: ApiHarness, database_url: str
) -> None:
    _hook(events_api)
    for i in range(30):
        events_api.env(f"e-{i}")
    others = [Database(database_url) for _ in range(3)]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        counts = list(pool.map(delivery.fan_out, others))
    for other in others:
        other.dispose()
    assert sum(counts) == 31  # webhook.created and the 30 environments, once in all
    assert len(_queued(events_api.db)) == 31


def test_first_webhooks_made_at_once(database_url: str, events_api: ApiHarness) -> None:
    """Two first webhooks of an org, in overlapping transactions: one cursor, no error."""
    from deploytrace.services import tenancy
    from deploytrace.storage import outbox

    first, second = Database(database_url), Database(database_url)
    org, _ = tenancy.bootstrap(first, "fresh")
    with first.write() as conn:
        outbox.start_cursor(conn, org.id)  # not committed yet
        with concurrent.futures.ThreadPoolExecutor(1) as pool:

            def start() -> None:
                with second.write() as other:
                    outbox.start_cursor(other, org.id)  # waits for the first, then must not fail

            pending = pool.submit(start)
            time.sleep(0.5)
            conn.commit()
            pending.result(timeout=30)
    assert len(_rows(first, "SELECT * FROM outbox_cursors")) == 1
    first.dispose()
    second.dispose()
