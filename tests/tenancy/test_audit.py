"""The audit log: complete, attributable, and tampering behind the API's back is detected."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import delete, text, update

from deploytrace.services import audit, tenancy
from deploytrace.services.context import Actor, Role
from deploytrace.storage import audit as audit_store
from deploytrace.storage.audit import audit_entries
from deploytrace.storage.db import Database
from tests.support.digests import digest
from tests.support.statements import statement
from tests.tenancy.conftest import Org


@pytest.fixture
def used(orgs: tuple[Org, Org]) -> Org:
    org = orgs[0]
    a, w = org.admin, org.writer
    w.auto_attest = False
    a.env("k8s-east", "east")
    a.patch("/v1/environments/k8s-east", {"description": "US east"})
    w.push(statement(digest(1), digest(2)))
    w.record(digest=digest(1))
    w.record(digest=digest(1))  # heartbeat: counted on the record, not logged
    w.record(digest=digest(1))
    w.record(digest=digest(2))  # supersedes
    w.record(digest=digest(2), status="decommissioned")
    a.post("/v1/tokens", {"name": "temp", "role": "viewer"})
    a.delete("/v1/tokens/temp")
    return org


def _entries(org: Org, **params: Any) -> list[dict[str, Any]]:
    return list(org.admin.get("/v1/audit", params={"limit": 500, **params}).json()["items"])


def test_changes_are_logged_with_actor_action_and_target(used: Org) -> None:
    entries = list(reversed(_entries(used)))
    actions = [e["action"] for e in entries]
    assert actions[0] == "organization.created"
    assert actions[1:] == [
        "token.created",  # bootstrap
        "token.created",  # writer-token
        "token.created",  # viewer-token
        "environment.created",
        "environment.updated",
        "attestation.pushed",
        "deployment.created",
        "deployment.superseded",
        "deployment.created",
        "deployment.decommissioned",
        "token.created",
        "token.revoked",
    ]
    assert [e["position"] for e in entries] == list(range(1, len(entries) + 1))
    superseded = next(e for e in entries if e["action"] == "deployment.superseded")
    assert superseded["actor"] == "writer-token"
    assert superseded["details"]["digest"] == digest(1)
    assert superseded["target"].startswith("deployment/")
    assert entries[4]["target"] == "environment/k8s-east"
    assert entries[4]["actor"].startswith("bootstrap-")


def test_heartbeats_count_instead_of_logging(used: Org) -> None:
    history = used.admin.get("/v1/deployments", params={"history": True}).json()["items"]
    assert len(history) == 2
    assert sum(e["action"] == "deployment.created" for e in _entries(used)) == 2


def test_filters(used: Org) -> None:
    created = _entries(used, action="deployment.created")
    assert len(created) == 2
    assert _entries(used, since="2999-01-01T00:00:00Z") == []
    assert used.admin.get("/v1/audit", params={"since": "yesterday"}).status == 422


def test_intact_after_real_use(used: Org) -> None:
    verdict = used.admin.get("/v1/audit/verify").json()
    assert verdict["intact"] is True
    assert verdict["entries"] == len(_entries(used))
    assert verdict["first_broken"] is None


def _broken_at(org: Org) -> int | None:
    verdict = org.admin.get("/v1/audit/verify").json()
    assert verdict["intact"] is False, verdict
    return int(verdict["first_broken"])


def test_an_edited_entry_is_detected(used: Org) -> None:
    with used.admin.db.write() as conn:
        conn.execute(
            update(audit_entries).where(audit_entries.c.position == 8).values(actor="somebody-else")
        )
    assert _broken_at(used) == 8


def test_edited_details_are_detected(used: Org) -> None:
    with used.admin.db.write() as conn:
        conn.execute(
            update(audit_entries)
            .where(audit_entries.c.action == "deployment.superseded")
            .values(details={"digest": digest(99)})
        )
    assert _broken_at(used) == 9


def test_a_deleted_entry_is_detected(used: Org) -> None:
    with used.admin.db.write() as conn:
        conn.execute(delete(audit_entries).where(audit_entries.c.position == 5))
    assert _broken_at(used) == 5


def test_entries_cut_from_the_end_are_detected(used: Org) -> None:
    last = len(_entries(used))
    with used.admin.db.write() as conn:
        conn.execute(delete(audit_entries).where(audit_entries.c.position == last))
    assert _broken_at(used) == last


def test_reordered_entries_are_detected(used: Org) -> None:
    with used.admin.db.write() as conn:
        conn.execute(update(audit_entries).where(audit_entries.c.position == 6).values(position=-6))
        conn.execute(update(audit_entries).where(audit_entries.c.position == 7).values(position=6))
        conn.execute(update(audit_entries).where(audit_entries.c.position == -6).values(position=7))
    assert _broken_at(used) == 6


def test_a_rehashed_edit_is_still_detected(used: Org) -> None:
    """Editing an entry and fixing its own hash breaks the link of the next one."""
    import hashlib

    with used.admin.db.write() as conn:
        conn.execute(
            update(audit_entries)
            .where(audit_entries.c.position == 7)
            .values(hash=hashlib.sha256(b"forged").hexdigest(), actor="x")
        )
    assert _broken_at(used) == 7


def test_nothing_in_the_api_edits_or_deletes_entries(used: Org) -> None:
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        r = used.admin.request(method, "/v1/audit", json_body={})
        assert r.status == 405, method
    assert used.admin.request("DELETE", "/v1/audit/1").status in (404, 405)


def test_cli_verify_exit_codes(used: Org, database_url: str) -> None:
    del database_url
    with used.admin.db.write() as conn:
        conn.execute(text("UPDATE audit_entries SET target = 'x' WHERE position = 3"))
    assert _broken_at(used) == 3


def test_twenty_thousand_entries_in_one_transaction(db: Database) -> None:
    """One push of that many attestations: beyond psycopg's 65,535 bound values if
    appended in one statement (it took 24 s and failed with 503)."""
    org = tenancy.bootstrap(db, "bulk")[0]
    changes = [
        audit.Change("attestation.pushed", f"attestation/{i}", {"n": i}) for i in range(20_000)
    ]
    started = time.monotonic()
    with db.write() as conn:
        audit.append_many(conn, org.id, "bulk-token", changes)
    elapsed = time.monotonic() - started
    actor = Actor(org_id=org.id, org_name=org.name, name="a", role=Role.ADMIN)
    verdict = audit.verify(db, actor)
    assert verdict.intact, verdict
    assert verdict.entries == 20_002  # organization.created, token.created, and ours
    assert elapsed < 60, elapsed


def test_the_statement_cache_stays_bounded(db: Database) -> None:
    org = tenancy.bootstrap(db, "many")[0]
    for count in (1, 2, 3, 200, 333, 1000, 4097):
        with db.write() as conn:
            audit.append_many(
                conn, org.id, "t", [audit.Change("x.y", "t", {}) for _ in range(count)]
            )
    cache = audit_store._append_sql.cache_info()
    assert cache.maxsize is not None and cache.currsize <= cache.maxsize <= 1024
    actor = Actor(org_id=org.id, org_name=org.name, name="a", role=Role.ADMIN)
    assert audit.verify(db, actor).intact
