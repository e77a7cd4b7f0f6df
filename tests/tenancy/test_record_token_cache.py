"""`deployment record` skips the token lookup for a token the process verified a moment
ago, and confirms the token in the statement doing its work instead: a revoked or
expired token is still refused on its very next record, and changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, update

from deploytrace.services import tenancy
from deploytrace.storage.db import Database
from deploytrace.storage.tenancy import api_tokens
from tests.support.api import ApiHarness
from tests.tenancy.conftest import Org

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The statements the application sends to the database meanwhile (SQLite's
    BEGIN IMMEDIATE left out: PostgreSQL's BEGIN is not a cursor execution either)."""
    sent: list[str] = []

    def log(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):
            sent.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", log)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", log)


def _setup(org: Org) -> ApiHarness:
    org.admin.env("k8s-east")
    org.admin.attest(D1, D2)
    writer = org.writer
    writer.auto_attest = False
    assert writer.record(digest=D1).status == 201
    return writer


def _heartbeats(org: Org) -> int:
    rows = org.admin.get("/v1/deployments").json()["items"]
    return int(rows[0]["heartbeats"]) if rows else -1


def test_a_heartbeat_with_a_recently_verified_token_is_one_statement(orgs: tuple[Org, Org]) -> None:
    org = orgs[0]
    writer = _setup(org)
    with statements(writer.db) as sent:
        assert writer.record(digest=D1).status == 200
    assert len(sent) == 1, sent
    assert sent[0].startswith("UPDATE deployment_records") and "api_tokens" in sent[0]


def test_revocation_applies_to_the_next_record(orgs: tuple[Org, Org]) -> None:
    org = orgs[0]
    writer = _setup(org)
    assert writer.record(digest=D1).status == 200  # served from the recent verification
    before = _heartbeats(org)
    assert org.admin.delete("/v1/tokens/writer-token").status == 200
    for fields in (
        {"digest": D1},  # heartbeat
        {"digest": D2},  # supersede
        {"digest": D1, "status": "decommissioned"},
        {"digest": D1[:20]},  # a digest prefix
    ):
        r = writer.record(**fields)
        assert r.status == 401, (fields, r.body)
        assert "revoked" in r.json()["error"]["message"]
    rows = org.admin.get("/v1/deployments").json()["items"]
    assert [(row["artifact"]["digest"], row["status"]) for row in rows] == [(D1, "deployed")]
    assert _heartbeats(org) == before


def test_expiry_applies_to_the_next_record(orgs: tuple[Org, Org]) -> None:
    org = orgs[0]
    writer = _setup(org)
    with writer.db.write() as conn:
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.name == "writer-token")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    for digest in (D1, D2):
        r = writer.record(digest=digest)
        assert r.status == 401 and "expired" in r.json()["error"]["message"], r.body
    assert _heartbeats(org) == 0


def test_other_requests_always_look_the_token_up(orgs: tuple[Org, Org]) -> None:
    org = orgs[0]
    writer = _setup(org)
    with statements(writer.db) as sent:
        assert writer.get("/v1/deployments").status == 200
    assert any("api_tokens" in s and s.startswith("SELECT") for s in sent), sent


def test_a_recent_verification_is_per_database_and_expires(
    orgs: tuple[Org, Org], monkeypatch: Any
) -> None:
    org = orgs[0]
    writer = _setup(org)
    header = f"Bearer {writer.token}"
    assert tenancy.recently_verified(writer.db, header) is not None
    assert tenancy.recently_verified(writer.db, header).unconfirmed  # type: ignore[union-attr]
    other = Database("sqlite://")
    try:
        assert tenancy.recently_verified(other, header) is None
    finally:
        other.dispose()
    monkeypatch.setattr(tenancy, "_VERIFIED_FOR", -1.0)
    assert tenancy.recently_verified(writer.db, header) is None
    with statements(writer.db) as sent:
        assert writer.record(digest=D1).status == 200
    assert any("api_tokens" in s and s.startswith("SELECT") for s in sent), sent
