"""The public keys and Sigstore roots an organization trusts for signatures."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    delete,
    insert,
    select,
)

from deploytrace.storage.base import UTCDateTime, metadata

trust_material = Table(
    "trust_material",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("fingerprint", String(71), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "name"),
)


@dataclass(frozen=True)
class TrustRow:
    name: str
    kind: str
    content: bytes
    fingerprint: str
    created_at: dt.datetime


def list_trust(conn: Connection, org_id: uuid.UUID) -> list[TrustRow]:
    t = trust_material
    rows = conn.execute(
        select(t.c.name, t.c.kind, t.c.content, t.c.fingerprint, t.c.created_at)
        .where(t.c.org_id == org_id)
        .order_by(t.c.name)
    )
    return [TrustRow(r.name, r.kind, bytes(r.content), r.fingerprint, r.created_at) for r in rows]


def insert_trust(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(trust_material).values(**values))


def delete_trust(conn: Connection, org_id: uuid.UUID, name: str) -> bool:
    t = trust_material
    result = conn.execute(delete(t).where(t.c.org_id == org_id, t.c.name == name))
    return bool(result.rowcount)
