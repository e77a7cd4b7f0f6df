"""The audit log: an append-only hash chain of entries per organization.

`audit_heads` holds each org's latest position and hash. Appending locks that
row (the only serialization point of audited writes in an org, taken last in
the transaction so it is held briefly), and the head lets verification notice
entries cut from the end of the chain.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    TextClause,
    UniqueConstraint,
    Uuid,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from deploytrace.storage.base import BigSerial, UTCDateTime, metadata
from deploytrace.storage.db import execute_and_commit

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("org_id", Uuid, ForeignKey("organizations.id"), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("seq", BigSerial, primary_key=True, autoincrement=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("actor", String(63), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("details", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("org_id", "position"),
    Index("ix_audit_entries_org_id_action_position", "org_id", "action", "position"),
    Index("ix_audit_entries_org_id_created_at", "org_id", "created_at"),
)

# Where `audit verify` found the chain intact: (position, hash of that entry),
# with an HMAC by a key kept outside the database when one is configured. The
# next verify starts from the newest checkpoint it can trust.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("org_id", Uuid, ForeignKey("organizations.id"), primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("mac", String(64)),
)

GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    position: int
    created_at: dt.datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


def create_head(conn: Connection, org_id: uuid.UUID) -> None:
    conn.execute(insert(audit_heads).values(org_id=org_id, position=0, hash=GENESIS))


@dataclass(frozen=True)
class Pending:
    """An entry about to be appended: its place in the chain is not known yet."""

    created_at: dt.datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    digest: str  # sha256 of the canonical content


def link(prev_hash: str, position: int, digest: str) -> str:
    """The chain: each entry's hash covers the previous hash, its position and its content."""
    return hashlib.sha256(f"{prev_hash}:{position}:{digest}".encode()).hexdigest()


_HEAD = select(audit_heads.c.position, audit_heads.c.hash).where(
    audit_heads.c.org_id == bindparam("org")
)
_INSERT = insert(audit_entries)
_MOVE_HEAD = (
    update(audit_heads)
    .where(audit_heads.c.org_id == bindparam("org"))
    .values(position=bindparam("position_"), hash=bindparam("hash_"))
)


def get_head(conn: Connection, org_id: uuid.UUID) -> tuple[int, str]:
    row = conn.execute(_HEAD, {"org": org_id}).first()
    return (int(row.position), str(row.hash)) if row else (0, GENESIS)


def append(
    conn: Connection, org_id: uuid.UUID, pending: list[Pending], *, commit: bool = False
) -> None:
    """Chain `pending` after the org's head. `commit`: this is the transaction's last
    statement, and on PostgreSQL it goes to the server together with COMMIT (see
    db.execute_and_commit: the head's lock is then held for no client round trip)."""
    if conn.dialect.name == "postgresql":
        _append_in_one_statement(conn, org_id, pending, commit=commit)
        return
    # SQLite: the write transaction holds the database lock; no row lock needed.
    position, prev = get_head(conn, org_id)
    rows = []
    for p in pending:
        position += 1
        current = link(prev, position, p.digest)
        rows.append(
            {**_values(org_id, p), "position": position, "prev_hash": prev, "hash": current}
        )
        prev = current
    conn.execute(_INSERT, rows)
    conn.execute(_MOVE_HEAD, {"org": org_id, "position_": position, "hash_": prev})


def _values(org_id: uuid.UUID, p: Pending) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "created_at": p.created_at,
        "actor": p.actor,
        "action": p.action,
        "target": p.target,
        "details": p.details,
    }


# Entries per statement: 4 bound values each, far below psycopg's 65,535; and the
# statements for 1..CHUNK entries are all the cache can ever hold.
CHUNK = 128


@functools.lru_cache(maxsize=CHUNK)
def _append_sql(count: int) -> TextClause:
    """Lock the head, chain `count` entries, insert them and move the head: one statement.

    The head's row lock is then held only while this statement and COMMIT run,
    not across round trips and Python work, which under load is what made an
    organization's writers queue. `link` is computed by PostgreSQL here
    (sha256 of the same text), so both backends build the same chain.
    """
    # `one` is the head, or one row of NULLs when the organization has none: the
    # entries' NOT NULL position then fails the statement instead of inserting nothing
    # (sent with COMMIT by execute_and_commit, an empty append would commit the audited
    # change without its entries).
    steps = [
        "head AS (SELECT position AS p, hash AS h FROM audit_heads WHERE org_id = :org FOR UPDATE)",
        "one AS (SELECT head.p, head.h FROM (SELECT 1) AS always LEFT JOIN head ON true)",
    ]
    previous = "one"
    for i in range(count):
        steps.append(
            f"e{i} AS (SELECT {previous}.p + 1 AS p, {previous}.h AS prev, encode(sha256("
            f"convert_to({previous}.h || ':' || ({previous}.p + 1)::text || ':' || :digest{i},"
            f" 'UTF8')), 'hex') AS h FROM {previous})"
        )
        previous = f"e{i}"
    rows = " UNION ALL ".join(
        f"SELECT :org, e{i}.p, :created_at, :actor, :action{i}, :target{i},"
        f" CAST(:details{i} AS json), e{i}.prev, e{i}.h FROM e{i}"
        for i in range(count)
    )
    steps.append(
        "ins AS (INSERT INTO audit_entries (org_id, position, created_at, actor, action,"
        f" target, details, prev_hash, hash) {rows})"
    )
    sql = (
        "WITH " + ", ".join(steps) + f" UPDATE audit_heads SET position = {previous}.p,"
        f" hash = {previous}.h FROM {previous} WHERE audit_heads.org_id = :org"
    )
    return text(sql).bindparams(
        bindparam("org", type_=Uuid), bindparam("created_at", type_=UTCDateTime)
    )


def _append_in_one_statement(
    conn: Connection, org_id: uuid.UUID, pending: list[Pending], *, commit: bool
) -> None:
    # Usually one statement. A push of thousands of attestations takes one per
    # CHUNK entries; each continues from the head the one before it moved (the
    # row lock is held from the first to COMMIT).
    for start in range(0, len(pending), CHUNK):
        chunk = pending[start : start + CHUNK]
        params: dict[str, Any] = {
            "org": org_id,
            "created_at": chunk[0].created_at,
            "actor": chunk[0].actor,
        }
        for i, p in enumerate(chunk):
            params[f"digest{i}"] = p.digest
            params[f"action{i}"] = p.action
            params[f"target{i}"] = p.target
            params[f"details{i}"] = json.dumps(p.details)
        statement = _append_sql(len(chunk))
        if commit and start + CHUNK >= len(pending):
            count = execute_and_commit(conn, statement, params)
        else:
            count = conn.execute(statement, params).rowcount
        if count != 1:
            raise LookupError(f"organization {org_id} has no audit head")


_columns = (
    audit_entries.c.position,
    audit_entries.c.created_at,
    audit_entries.c.actor,
    audit_entries.c.action,
    audit_entries.c.target,
    audit_entries.c.details,
    audit_entries.c.prev_hash,
    audit_entries.c.hash,
)


def _entry(row: Any) -> Entry:
    return Entry(
        int(row.position),
        row.created_at,
        row.actor,
        row.action,
        row.target,
        dict(row.details or {}),
        row.prev_hash,
        row.hash,
    )


def page(
    conn: Connection,
    org_id: uuid.UUID,
    *,
    since: dt.datetime | None,
    action: str | None,
    before_position: int | None,
    limit: int,
) -> list[Entry]:
    """Newest first."""
    e = audit_entries
    query = select(*_columns).where(e.c.org_id == org_id)
    if since is not None:
        query = query.where(e.c.created_at >= since)
    if action is not None:
        query = query.where(e.c.action == action)
    if before_position is not None:
        query = query.where(e.c.position < before_position)
    rows = conn.execute(query.order_by(e.c.position.desc()).limit(limit))
    return [_entry(row) for row in rows]


def in_order(
    conn: Connection,
    org_id: uuid.UUID,
    *,
    after: int | None = None,
    upto: int | None = None,
    batch: int = 1000,
) -> Iterator[Entry]:
    """The org's entries by position, after `after` up to `upto`, as stored (for verification)."""
    e = audit_entries
    while True:
        query = select(*_columns).where(e.c.org_id == org_id)
        if after is not None:
            query = query.where(e.c.position > after)
        if upto is not None:
            query = query.where(e.c.position <= upto)
        rows = list(conn.execute(query.order_by(e.c.position).limit(batch)))
        if not rows:
            return
        for row in rows:
            yield _entry(row)
        after = rows[-1].position


def last_position(conn: Connection, org_id: uuid.UUID) -> int:
    e = audit_entries
    found = conn.execute(select(func.max(e.c.position)).where(e.c.org_id == org_id)).scalar()
    return int(found or 0)


def entry_at(conn: Connection, org_id: uuid.UUID, position: int) -> Entry | None:
    e = audit_entries
    row = conn.execute(
        select(*_columns).where(e.c.org_id == org_id, e.c.position == position)
    ).first()
    return _entry(row) if row else None


@dataclass(frozen=True)
class Checkpoint:
    position: int
    hash: str
    created_at: dt.datetime
    mac: str | None


def checkpoints(conn: Connection, org_id: uuid.UUID) -> list[Checkpoint]:
    """Oldest first (one per verify that found something new: a few thousand at most)."""
    c = audit_checkpoints
    rows = conn.execute(
        select(c.c.position, c.c.hash, c.c.created_at, c.c.mac)
        .where(c.c.org_id == org_id)
        .order_by(c.c.position)
    )
    return [Checkpoint(int(r.position), r.hash, r.created_at, r.mac) for r in rows]


def save_checkpoint(conn: Connection, org_id: uuid.UUID, checkpoint: Checkpoint) -> None:
    """Insert, or replace one at the same position (two verifies may race to it)."""
    values = {
        "org_id": org_id,
        "position": checkpoint.position,
        "hash": checkpoint.hash,
        "created_at": checkpoint.created_at,
        "mac": checkpoint.mac,
    }
    dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(audit_checkpoints).values(**values)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["org_id", "position"],
            set_={
                "hash": checkpoint.hash,
                "created_at": checkpoint.created_at,
                "mac": checkpoint.mac,
            },
        )
    )
