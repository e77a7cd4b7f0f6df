"""What one `deployment record` costs the database: the look-ups of the record path
(slot ids, token, policy attached?, promotion predecessor, attestation) are one
statement, and a slot where no policy is attached never reads the policies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from deploytrace.storage.db import Database
from tests.support.api import ApiHarness

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    sent: list[str] = []

    def log(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE
            sent.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", log)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", log)


def test_a_supersede_without_policies_is_seven_statements(api: ApiHarness) -> None:
    api.env("k8s-east")
    api.attest(D1, D2)
    assert api.record(digest=D1).status == 201
    with statements(api.db) as sent:
        r = api.record(digest=D2)
    assert r.status == 201 and r.json()["action"] == "superseded_previous"
    # The heartbeat attempt, the look-ups, the slot lock, the active record, ending
    # it, the new record, and the audit entries: on PostgreSQL one statement that goes
    # to the server with COMMIT on the driver's connection (no SQLAlchemy event sees
    # it); on SQLite, which needs no slot lock, the head, the entries and the head again.
    expected = 6 if api.db.is_postgres else 8
    assert len(sent) == expected, "\n".join(sent)
    entries = api.get("/v1/audit", params={"limit": 2}).json()["items"]
    assert {e["action"] for e in entries} == {"deployment.created", "deployment.superseded"}
    assert api.get("/v1/audit/verify").json()["intact"] is True
    assert not any("policy_versions" in s for s in sent)  # the gate never ran
    assert sum("policy_attachments" in s for s in sent) == 1  # asked in the look-up
    assert not any(s.startswith("SELECT api_tokens") for s in sent)  # verified a moment ago


def test_promotion_is_decided_by_the_insert(api: ApiHarness) -> None:
    api.env("k8s-east")
    api.attest(D1, D2)
    staging = api.record(digest=D1, logical_environment="staging").json()
    assert staging["promotion"] == {"skipped": "development"}
    assert api.record(digest=D1, logical_environment="development").status == 201
    # D1 ran in staging before: production skipped nothing.
    production = api.record(digest=D1).json()
    assert production["promotion"] is None
    # D2 never ran in staging.
    assert api.record(digest=D2).json()["promotion"] == {"skipped": "staging"}


def test_without_an_audit_head_nothing_is_committed(api: ApiHarness) -> None:
    """The audit append is the transaction's last statement and, on PostgreSQL, goes
    with COMMIT: when it cannot chain (no head), the whole record is refused."""
    from sqlalchemy import delete, exc

    from deploytrace.storage.audit import audit_heads

    api.env("k8s-east")
    api.attest(D1, D2)
    assert api.record(digest=D1).status == 201
    with api.db.write() as conn:
        conn.execute(delete(audit_heads))
    # The harness re-raises what the server answers 500 for.
    with pytest.raises((LookupError, exc.IntegrityError)):
        api.record(digest=D2)
    items = api.get("/v1/deployments", params={"history": True}).json()["items"]
    assert [(i["artifact"]["digest"], i["status"]) for i in items] == [(D1, "deployed")]
