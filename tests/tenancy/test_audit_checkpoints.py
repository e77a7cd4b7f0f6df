"""`audit verify` from checkpoints: cheap daily, and what an attacker can do to them.

An attacker here can edit the database (any row of any table) but does not hold
DEPLOYTRACE_AUDIT_KEY, which signs checkpoints and lives outside the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from deploytrace.services import audit, tenancy
from deploytrace.services.context import Actor, Role
from deploytrace.storage import audit as store
from deploytrace.storage.audit import audit_checkpoints, audit_entries, audit_heads
from deploytrace.storage.base import utcnow
from deploytrace.storage.db import Database

KEY = "test-audit-key-kept-outside-the-database"


def _org(db: Database, name: str = "acme") -> Actor:
    org = tenancy.bootstrap(db, name)[0]
    return Actor(org_id=org.id, org_name=org.name, name="auditor", role=Role.VIEWER)


def _append(db: Database, actor: Actor, count: int, start: int = 0) -> None:
    changes = [
        audit.Change("environment.updated", f"environment/e{i}", {"n": i})
        for i in range(start, start + count)
    ]
    with db.write() as conn:
        audit.append_many(conn, actor.org_id, "writer", changes)


@pytest.fixture
def entries_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Positions of the entries verification recomputes."""
    read: list[int] = []
    original = store.in_order

    def counting(*args: Any, **kwargs: Any) -> Iterator[store.Entry]:
        for entry in original(*args, **kwargs):
            read.append(entry.position)
            yield entry

    monkeypatch.setattr(store, "in_order", counting)
    return read


def test_a_second_verify_recomputes_only_what_came_since(
    db: Database, entries_read: list[int]
) -> None:
    actor = _org(db)
    _append(db, actor, 2500)
    first = audit.verify(db, actor, key=KEY)
    assert first.intact and first.checked_from == 1 and first.entries == 2502
    assert len(entries_read) == 2502
    _append(db, actor, 7, start=2500)
    entries_read.clear()
    second = audit.verify(db, actor, key=KEY)
    assert second.intact, second
    assert second.entries == 2509
    assert second.checked_from == 2503  # one past the first verify's head
    assert entries_read == list(range(2503, 2510))
    entries_read.clear()
    third = audit.verify(db, actor, key=KEY, full=True)
    assert third.intact and third.checked_from == 1 and third.entries == 2509
    assert len(entries_read) == 2509


def test_nothing_new_is_checked_in_one_lookup(db: Database) -> None:
    actor = _org(db)
    _append(db, actor, 300)
    assert audit.verify(db, actor, key=KEY).intact
    again = audit.verify(db, actor, key=KEY)
    assert again.intact and again.checked_from == again.entries + 1


def _rehash_from(db: Database, actor: Actor, position: int, new_target: str) -> None:
    """The strong attacker's edit: change entry `position`, recompute every hash after
    it and move the head, exactly as the server would have."""
    e = audit_entries
    with db.write() as conn:
        conn.execute(
            update(e)
            .where(e.c.org_id == actor.org_id, e.c.position == position)
            .values(target=new_target)
        )
        rows = list(
            conn.execute(
                select(e)
                .where(e.c.org_id == actor.org_id, e.c.position >= position)
                .order_by(e.c.position)
            )
        )
        prev = rows[0].prev_hash
        for row in rows:
            digest = audit.entry_digest(
                actor.org_id, row.created_at, row.actor, row.action, row.target, dict(row.details)
            )
            current = store.link(prev, row.position, digest)
            conn.execute(update(e).where(e.c.seq == row.seq).values(prev_hash=prev, hash=current))
            prev = current
        conn.execute(
            update(audit_heads).where(audit_heads.c.org_id == actor.org_id).values(hash=prev)
        )


def test_a_rewritten_chain_behind_a_signed_checkpoint_is_found(db: Database) -> None:
    actor = _org(db)
    _append(db, actor, 50)
    assert audit.verify(db, actor, key=KEY).intact  # checkpoint at 52, signed
    _append(db, actor, 10, start=50)
    _rehash_from(db, actor, 20, "environment/forged")
    # Recomputed from the start the chain is consistent in itself; without a
    # checkpoint nothing tells (that is what the key-less org shows below).
    # The signed checkpoint does: entry 52 no longer has the hash it had.
    for full in (False, True):
        verdict = audit.verify(db, actor, key=KEY, full=full)
        assert not verdict.intact, full
        assert verdict.first_broken == 52
        assert "differs from the checkpoint" in (verdict.reason or "")
    other = _org(db, "globex")
    _append(db, other, 30)
    _rehash_from(db, other, 10, "environment/forged")
    assert audit.verify(db, other, key=KEY, full=True).intact


def test_forged_checkpoints_are_not_trusted(db: Database) -> None:
    actor = _org(db)
    _append(db, actor, 50)
    assert audit.verify(db, actor, key=KEY).intact  # the genuine checkpoint at 52
    _append(db, actor, 10, start=50)
    _rehash_from(db, actor, 20, "environment/forged")
    head_position, head_hash = _head(db, actor)
    with db.write() as conn:
        for mac in (None, "0" * 64, audit.checkpoint_mac("guessed-key", actor.org_id, 62, "x")):
            conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.position == 62))
            conn.execute(
                insert(audit_checkpoints).values(
                    org_id=actor.org_id,
                    position=head_position,
                    hash=head_hash,
                    created_at=utcnow(),
                    mac=mac,
                )
            )
    verdict = audit.verify(db, actor, key=KEY)
    assert not verdict.intact and verdict.first_broken == 52


def test_an_edit_before_the_checkpoint_without_rehashing_needs_full(db: Database) -> None:
    """The limit of checkpoints, as the README says: only --full recomputes old entries."""
    actor = _org(db)
    _append(db, actor, 30)
    assert audit.verify(db, actor, key=KEY).intact
    with db.write() as conn:
        conn.execute(
            update(audit_entries)
            .where(audit_entries.c.org_id == actor.org_id, audit_entries.c.position == 10)
            .values(target="environment/forged")
        )
    assert audit.verify(db, actor, key=KEY).intact
    full = audit.verify(db, actor, key=KEY, full=True)
    assert not full.intact and full.first_broken == 10


def test_a_head_moved_back_below_a_checkpoint_is_found(db: Database) -> None:
    actor = _org(db)
    _append(db, actor, 30)
    assert audit.verify(db, actor, key=KEY).intact  # checkpoint at 32
    e = audit_entries
    with db.write() as conn:
        conn.execute(delete(e).where(e.c.org_id == actor.org_id, e.c.position > 25))
        row = conn.execute(
            select(e.c.hash).where(e.c.org_id == actor.org_id, e.c.position == 25)
        ).one()
        conn.execute(
            update(audit_heads)
            .where(audit_heads.c.org_id == actor.org_id)
            .values(position=25, hash=row.hash)
        )
    verdict = audit.verify(db, actor, key=KEY)
    assert not verdict.intact and "missing from the end" in (verdict.reason or "")


def test_entries_added_past_the_head_are_found(db: Database) -> None:
    actor = _org(db)
    _append(db, actor, 5)
    with db.write() as conn:
        last = conn.execute(
            select(audit_entries)
            .where(audit_entries.c.org_id == actor.org_id)
            .order_by(audit_entries.c.position.desc())
        ).first()
        assert last is not None
        values = {k: v for k, v in last._mapping.items() if k != "seq"}
        conn.execute(insert(audit_entries).values({**values, "position": last.position + 1}))
    verdict = audit.verify(db, actor)
    assert not verdict.intact and verdict.reason == "entries were added past the head"


def test_without_a_key_checkpoints_are_unsigned_and_signed_ones_are_not_trusted(
    db: Database,
) -> None:
    actor = _org(db)
    _append(db, actor, 20)
    assert audit.verify(db, actor, key=KEY).intact  # signed, at 22
    _append(db, actor, 3, start=20)
    unsigned = audit.verify(db, actor)  # no key: the signed one is not used
    assert unsigned.intact and unsigned.checked_from == 1
    with db.read() as conn:
        marks = store.checkpoints(conn, actor.org_id)
    assert [(m.position, m.mac is None) for m in marks] == [(22, False), (25, True)]
    assert audit.verify(db, actor).checked_from == 26


def test_checkpoints_are_per_organization(db: Database) -> None:
    acme, globex = _org(db, "acme"), _org(db, "globex")
    _append(db, acme, 10)
    assert audit.verify(db, acme, key=KEY).intact
    assert audit.verify(db, globex, key=KEY).checked_from == 1


def test_verify_during_appends_never_reports_a_false_break(db: Database) -> None:
    """A verify reads the head, then the entries: appends committing in between
    must not look like entries added past the head or missing from the end."""
    actor = _org(db)
    _append(db, actor, 50)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        i = 0
        try:
            while not stop.is_set():
                _append(db, actor, 3, start=1000 + i)
                i += 3
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        verdicts = [audit.verify(db, actor, key=KEY, full=n % 2 == 0) for n in range(30)]
    finally:
        stop.set()
        thread.join()
    assert not errors
    broken = [v for v in verdicts if not v.intact]
    assert broken == []


@pytest.mark.parametrize("full", [False, True])
def test_the_api_and_cli_verdict_say_where_they_started(
    db: Database, full: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deploytrace.api.app import create_app
    from deploytrace.api.runtime import Runtime
    from deploytrace.settings import Settings
    from tests.support.api import ApiHarness

    _, token = tenancy.bootstrap(db, "acme")
    app = create_app(Runtime(db=db, settings=Settings(audit_key=KEY)))
    api = ApiHarness(app, token=token, db=db)
    assert api.get("/v1/audit/verify").json()["checked_from"] == 1
    api.env("k8s-east")
    second = api.get("/v1/audit/verify", params={"full": full}).json()
    assert second["intact"]
    assert second["checked_from"] == (1 if full else 3)
    assert second["entries"] == 3


def _head(db: Database, actor: Actor) -> tuple[int, str]:
    with db.read() as conn:
        return store.get_head(conn, actor.org_id)
