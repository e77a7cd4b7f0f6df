"""Environments (infrastructure targets) and logical environments (lifecycle stages).

Both tables have the same shape and the same queries; deletion is soft so that
the deployment history that names them stays readable.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Uuid,
    insert,
    select,
    update,
)

from deploytrace.storage.base import UTCDateTime, metadata


def _table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
        Column("name", String(63), nullable=False),
        Column("description", String(1024), nullable=False, server_default=""),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Column("deleted_at", UTCDateTime),
        Index(
            f"uq_{name}_org_id_name_live",
            "org_id",
            "name",
            unique=True,
            postgresql_where="deleted_at IS NULL",
            sqlite_where="deleted_at IS NULL",
        ),
    )


environments = _table("environments")
# SPEC §7 `--stale-after`, in seconds; NULL: never stale. (Added by migration 0005_events
# for the stale check; the §7 work owns it.)
environments.append_column(Column("stale_after_seconds", Integer))
logical_environments = _table("logical_environments")


@dataclass(frozen=True)
class EnvRow:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime


def _row(row: object) -> EnvRow:
    m = row._mapping  # type: ignore[attr-defined]
    return EnvRow(
        m["id"], m["org_id"], m["name"], m["description"], m["created_at"], m["updated_at"]
    )


def _live(table: Table, org_id: uuid.UUID) -> list[ColumnElement[bool]]:
    return [table.c.org_id == org_id, table.c.deleted_at.is_(None)]


def get(conn: Connection, table: Table, org_id: uuid.UUID, name: str) -> EnvRow | None:
    row = conn.execute(select(table).where(*_live(table, org_id), table.c.name == name)).first()
    return _row(row) if row else None


def ids_by_name(conn: Connection, table: Table, org_id: uuid.UUID, name: str) -> list[uuid.UUID]:
    """Every row ever called `name`, deleted ones included: history filters need them."""
    query = select(table.c.id).where(table.c.org_id == org_id, table.c.name == name)
    return list(conn.scalars(query.order_by(table.c.deleted_at.is_(None).desc())))


def insert_row(
    conn: Connection,
    table: Table,
    *,
    org_id: uuid.UUID,
    row_id: uuid.UUID,
    name: str,
    description: str,
    now: dt.datetime,
) -> EnvRow:
    conn.execute(
        insert(table).values(
            id=row_id,
            org_id=org_id,
            name=name,
            description=description,
            created_at=now,
            updated_at=now,
        )
    )
    return EnvRow(row_id, org_id, name, description, now, now)


def list_page(
    conn: Connection, table: Table, org_id: uuid.UUID, *, after: str | None, limit: int
) -> list[EnvRow]:
    query = select(table).where(*_live(table, org_id)).order_by(table.c.name).limit(limit)
    if after is not None:
        query = query.where(table.c.name > after)
    return [_row(row) for row in conn.execute(query)]


def set_description(
    conn: Connection, table: Table, row_id: uuid.UUID, description: str, now: dt.datetime
) -> None:
    conn.execute(
        update(table).where(table.c.id == row_id).values(description=description, updated_at=now)
    )


def soft_delete(conn: Connection, table: Table, row_id: uuid.UUID, now: dt.datetime) -> None:
    conn.execute(update(table).where(table.c.id == row_id).values(deleted_at=now, updated_at=now))
