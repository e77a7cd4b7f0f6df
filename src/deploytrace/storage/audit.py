"""The audit log: an append-only hash chain of entries per organization.

`audit_heads` holds each org's latest position and hash. Appending locks that
row (the only serialization point of audited writes in an org, taken last in
the transaction so it is held briefly), and the head lets verification notice
entries cut from the end of the chain.
"""

from __future__ import annotations

import datetime as dt
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
    UniqueConstraint,
    Uuid,
    bindparam,
    insert,
    select,
    update,
)

from deploytrace.storage.base import BigSerial, UTCDateTime, metadata

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


_HEAD = select(audit_heads.c.position, audit_heads.c.hash).where(
    audit_heads.c.org_id == bindparam("org")
)
_LOCK_HEAD = _HEAD.with_for_update()
_INSERT = insert(audit_entries)
_MOVE_HEAD = (
    update(audit_heads)
    .where(audit_heads.c.org_id == bindparam("org"))
    .values(position=bindparam("position_"), hash=bindparam("hash_"))
)


def lock_head(conn: Connection, org_id: uuid.UUID) -> tuple[int, str]:
    """The org's head (position, hash), locked until the transaction ends.

    SQLite has no row locks: its write transactions hold the database lock.
    """
    query = _LOCK_HEAD if conn.dialect.name == "postgresql" else _HEAD
    row = conn.execute(query, {"org": org_id}).first()
    if row is None:
        raise LookupError(f"organization {org_id} has no audit head")
    return int(row.position), str(row.hash)


def get_head(conn: Connection, org_id: uuid.UUID) -> tuple[int, str]:
    row = conn.execute(_HEAD, {"org": org_id}).first()
    return (int(row.position), str(row.hash)) if row else (0, GENESIS)


def append(conn: Connection, org_id: uuid.UUID, entries: list[Entry]) -> None:
    conn.execute(
        _INSERT,
        [
            {
                "org_id": org_id,
                "position": e.position,
                "created_at": e.created_at,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "details": e.details,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            for e in entries
        ],
    )
    last = entries[-1]
    conn.execute(_MOVE_HEAD, {"org": org_id, "position_": last.position, "hash_": last.hash})


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


def in_order(conn: Connection, org_id: uuid.UUID, batch: int = 1000) -> Iterator[Entry]:
    """Every entry of the org by position, as stored (for verification)."""
    e = audit_entries
    after = None
    while True:
        query = select(*_columns).where(e.c.org_id == org_id)
        if after is not None:
            query = query.where(e.c.position > after)
        rows = list(conn.execute(query.order_by(e.c.position).limit(batch)))
        if not rows:
            return
        for row in rows:
            yield _entry(row)
        after = rows[-1].position
