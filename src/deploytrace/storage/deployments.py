"""Deployment records: the table, its indexes and its queries.

A slot is (org, environment, logical environment, deployment name, kind). The
partial unique index `uq_deployment_records_active_slot` is the database's own
guarantee that a slot never holds two `deployed` records. `seq` is the keyset
pagination key (insertion order, so "newest first" is `seq DESC`); every list
index ends with it so that any page, however deep, is an index range scan.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ColumnElement,
    Connection,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    case,
    exists,
    insert,
    select,
    update,
)

from deploytrace.storage.base import BigSerial, UTCDateTime, metadata
from deploytrace.storage.environments import environments, logical_environments

DEPLOYED = "deployed"
SUPERSEDED = "superseded"
DECOMMISSIONED = "decommissioned"

_ACTIVE = "status = 'deployed'"

deployment_records = Table(
    "deployment_records",
    metadata,
    Column("seq", BigSerial, primary_key=True, autoincrement=True),
    Column("id", Uuid, nullable=False, unique=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("environment_id", Uuid, ForeignKey("environments.id"), nullable=False),
    Column("logical_environment_id", Uuid, ForeignKey("logical_environments.id"), nullable=False),
    Column("deployment_name", String(253), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("artifact_digest", String(135), nullable=False),
    Column("artifact_name", String(512)),
    Column("artifact_version", String(256)),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Column("superseded_by", Uuid),
    Column("heartbeats", Integer, nullable=False, server_default="0"),
    Column("recorded_by", String(63)),
    CheckConstraint(f"status IN ('{DEPLOYED}', '{SUPERSEDED}', '{DECOMMISSIONED}')", name="status"),
    CheckConstraint("kind IN ('CONTAINER_IMAGE', 'HELM_CHART')", name="kind"),
    Index(
        "uq_deployment_records_active_slot",
        "org_id",
        "environment_id",
        "logical_environment_id",
        "deployment_name",
        "kind",
        unique=True,
        postgresql_where=_ACTIVE,
        sqlite_where=_ACTIVE,
    ),
    # History of one slot (latest record for idempotent decommission).
    Index(
        "ix_deployment_records_slot_seq",
        "org_id",
        "environment_id",
        "logical_environment_id",
        "deployment_name",
        "kind",
        "seq",
    ),
    Index("ix_deployment_records_org_seq", "org_id", "seq"),
    Index("ix_deployment_records_org_env_seq", "org_id", "environment_id", "seq"),
    Index("ix_deployment_records_org_lenv_seq", "org_id", "logical_environment_id", "seq"),
    Index(
        "ix_deployment_records_org_env_lenv_seq",
        "org_id",
        "environment_id",
        "logical_environment_id",
        "seq",
    ),
    Index("ix_deployment_records_org_name_seq", "org_id", "deployment_name", "seq"),
    Index("ix_deployment_records_org_digest_seq", "org_id", "artifact_digest", "seq"),
    # The active views: small partial indexes that stay small however long history grows.
    Index(
        "ix_deployment_records_active_org_seq",
        "org_id",
        "seq",
        postgresql_where=_ACTIVE,
        sqlite_where=_ACTIVE,
    ),
    Index(
        "ix_deployment_records_active_org_lenv_seq",
        "org_id",
        "logical_environment_id",
        "seq",
        postgresql_where=_ACTIVE,
        sqlite_where=_ACTIVE,
    ),
    Index(
        "ix_deployment_records_active_org_env_seq",
        "org_id",
        "environment_id",
        "seq",
        postgresql_where=_ACTIVE,
        sqlite_where=_ACTIVE,
    ),
)

r = deployment_records


@dataclass(frozen=True)
class Slot:
    org_id: uuid.UUID
    environment_id: uuid.UUID
    logical_environment_id: uuid.UUID
    deployment_name: str
    kind: str
    # The names the slot was addressed by, to answer without joining them back in.
    environment: str
    logical_environment: str

    @property
    def key(self) -> tuple[object, ...]:
        return (
            self.org_id,
            self.environment_id,
            self.logical_environment_id,
            self.deployment_name,
            self.kind,
        )

    def params(self) -> dict[str, object]:
        return {
            "org": self.org_id,
            "env_id": self.environment_id,
            "lenv_id": self.logical_environment_id,
            "name": self.deployment_name,
            "kind_": self.kind,
        }


@dataclass(frozen=True)
class RecordRow:
    """A record as stored, with its environment names joined in."""

    seq: int
    id: uuid.UUID
    environment: str
    logical_environment: str
    deployment_name: str
    kind: str
    artifact_digest: str
    artifact_name: str | None
    artifact_version: str | None
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    last_seen_at: dt.datetime
    ended_at: dt.datetime | None
    superseded_by: uuid.UUID | None
    heartbeats: int


_view_columns = (
    r.c.seq,
    r.c.id,
    environments.c.name.label("environment"),
    logical_environments.c.name.label("logical_environment"),
    r.c.deployment_name,
    r.c.kind,
    r.c.artifact_digest,
    r.c.artifact_name,
    r.c.artifact_version,
    r.c.status,
    r.c.created_at,
    r.c.updated_at,
    r.c.last_seen_at,
    r.c.ended_at,
    r.c.superseded_by,
    r.c.heartbeats,
)
# A record's own columns: what the write path reads back, names being known.
_own_columns = tuple(c for c in _view_columns if c.table is r)


def _view() -> Select[tuple[object, ...]]:
    return (
        select(*_view_columns)
        .join(environments, environments.c.id == r.c.environment_id)
        .join(logical_environments, logical_environments.c.id == r.c.logical_environment_id)
    )


def _record(row: object) -> RecordRow:
    return RecordRow(**row._mapping)  # type: ignore[attr-defined]


def _record_in(row: object, environment: str, logical_environment: str) -> RecordRow:
    return RecordRow(
        **row._mapping,  # type: ignore[attr-defined]
        environment=environment,
        logical_environment=logical_environment,
    )


# The write path runs on every deploy and heartbeat: its statements are built
# once, with bind parameters, so each execution skips SQLAlchemy's expression
# construction and goes straight to the compiled-statement cache.


def _live_id(table: Table, name_param: str) -> Any:
    return (
        select(table.c.id)
        .where(
            table.c.org_id == bindparam("org"),
            table.c.name == bindparam(name_param),
            table.c.deleted_at.is_(None),
        )
        .scalar_subquery()
    )


def _not_before(column: Any) -> Any:
    """`:now`, or `column` if it is later.

    `now` is read from the clock before the statement waits for the row lock, so a
    writer that queued behind another may carry an earlier time than what it
    follows. Taking the later of the two keeps every record's times in commit
    order: last seen never goes back, and a record never ends before it was last
    seen (a heartbeat that just committed) — the successor then starts at that end.
    """
    now = bindparam("now", type_=UTCDateTime)
    return case((column > now, column), else_=now)


_in_slot = (
    r.c.org_id == bindparam("org"),
    r.c.environment_id == bindparam("env_id"),
    r.c.logical_environment_id == bindparam("lenv_id"),
    r.c.deployment_name == bindparam("name"),
    r.c.kind == bindparam("kind_"),
)

_SLOT_IDS = select(
    _live_id(environments, "env").label("environment_id"),
    _live_id(logical_environments, "lenv").label("logical_environment_id"),
)

# A heartbeat in one statement: the row lock it takes serializes it with a
# concurrent supersede, and it matches nothing once the record stopped being
# the deployed one, so it never needs the slot lock.
_HEARTBEAT = (
    update(r)
    .where(
        r.c.org_id == bindparam("org"),
        r.c.environment_id == _live_id(environments, "env"),
        r.c.logical_environment_id == _live_id(logical_environments, "lenv"),
        r.c.deployment_name == bindparam("name"),
        r.c.kind == bindparam("kind_"),
        r.c.status == DEPLOYED,
        r.c.artifact_digest == bindparam("digest"),
    )
    .values(
        last_seen_at=_not_before(r.c.last_seen_at),
        updated_at=_not_before(r.c.updated_at),
        heartbeats=r.c.heartbeats + 1,
    )
    .returning(*_own_columns)
)
_ACTIVE_IN_SLOT = select(*_own_columns).where(*_in_slot, r.c.status == DEPLOYED)
_LATEST = select(*_own_columns).where(*_in_slot).order_by(r.c.seq.desc()).limit(1)
_INSERT = insert(r).returning(*_own_columns)
_END = (
    update(r)
    .where(r.c.seq == bindparam("seq_"))
    .values(
        status=bindparam("status_"),
        ended_at=_not_before(r.c.last_seen_at),
        updated_at=_not_before(r.c.last_seen_at),
        superseded_by=bindparam("successor"),
    )
    .returning(*_own_columns)
)


def slot_ids(
    conn: Connection, org_id: uuid.UUID, environment: str, logical_environment: str
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    row = conn.execute(
        _SLOT_IDS, {"org": org_id, "env": environment, "lenv": logical_environment}
    ).one()
    return row.environment_id, row.logical_environment_id


def heartbeat_by_names(
    conn: Connection,
    org_id: uuid.UUID,
    *,
    environment: str,
    logical_environment: str,
    deployment_name: str,
    kind: str,
    digest: str,
    now: dt.datetime,
) -> RecordRow | None:
    """Heartbeat the slot's deployed record if it is `digest`; None otherwise."""
    row = conn.execute(
        _HEARTBEAT,
        {
            "org": org_id,
            "env": environment,
            "lenv": logical_environment,
            "name": deployment_name,
            "kind_": kind,
            "digest": digest,
            "now": now,
        },
    ).first()
    return _record_in(row, environment, logical_environment) if row else None


def active_in_slot(conn: Connection, slot: Slot) -> RecordRow | None:
    row = conn.execute(_ACTIVE_IN_SLOT, slot.params()).first()
    return _record_in(row, slot.environment, slot.logical_environment) if row else None


def latest_in_slot(conn: Connection, slot: Slot) -> RecordRow | None:
    row = conn.execute(_LATEST, slot.params()).first()
    return _record_in(row, slot.environment, slot.logical_environment) if row else None


def get(conn: Connection, org_id: uuid.UUID, record_id: uuid.UUID) -> RecordRow | None:
    row = conn.execute(_view().where(r.c.org_id == org_id, r.c.id == record_id)).first()
    return _record(row) if row else None


def insert_record(
    conn: Connection,
    slot: Slot,
    *,
    record_id: uuid.UUID,
    digest: str,
    artifact_name: str | None,
    artifact_version: str | None,
    now: dt.datetime,
    recorded_by: str | None,
) -> RecordRow:
    row = conn.execute(
        _INSERT,
        {
            "id": record_id,
            "org_id": slot.org_id,
            "environment_id": slot.environment_id,
            "logical_environment_id": slot.logical_environment_id,
            "deployment_name": slot.deployment_name,
            "kind": slot.kind,
            "artifact_digest": digest,
            "artifact_name": artifact_name,
            "artifact_version": artifact_version,
            "status": DEPLOYED,
            "created_at": now,
            "updated_at": now,
            "last_seen_at": now,
            "recorded_by": recorded_by,
        },
    ).one()
    return _record_in(row, slot.environment, slot.logical_environment)


def end(
    conn: Connection,
    slot: Slot,
    seq: int,
    *,
    status: str,
    now: dt.datetime,
    superseded_by: uuid.UUID | None = None,
) -> RecordRow:
    row = conn.execute(
        _END, {"seq_": seq, "status_": status, "now": now, "successor": superseded_by}
    ).one()
    return _record_in(row, slot.environment, slot.logical_environment)


@dataclass(frozen=True)
class Filters:
    org_id: uuid.UUID
    environment_ids: list[uuid.UUID] | None = None
    logical_environment_ids: list[uuid.UUID] | None = None
    deployment_name: str | None = None
    kind: str | None = None
    digest: str | None = None
    history: bool = False


def list_page(
    conn: Connection,
    filters: Filters,
    *,
    before_seq: int | None,
    limit: int,
    extra: list[ColumnElement[bool]] | None = None,
) -> list[RecordRow]:
    """Newest first; `before_seq` is the keyset cursor."""
    query = _view().where(r.c.org_id == filters.org_id)
    if not filters.history:
        query = query.where(r.c.status == DEPLOYED)
    for column, ids in (
        (r.c.environment_id, filters.environment_ids),
        (r.c.logical_environment_id, filters.logical_environment_ids),
    ):
        if ids is not None:
            query = query.where(column == ids[0] if len(ids) == 1 else column.in_(ids))
    if filters.deployment_name is not None:
        query = query.where(r.c.deployment_name == filters.deployment_name)
    if filters.kind is not None:
        query = query.where(r.c.kind == filters.kind)
    if filters.digest is not None:
        query = query.where(r.c.artifact_digest == filters.digest)
    if before_seq is not None:
        query = query.where(r.c.seq < before_seq)
    for condition in extra or ():
        query = query.where(condition)
    return [_record(row) for row in conn.execute(query.order_by(r.c.seq.desc()).limit(limit))]


def has_active(conn: Connection, org_id: uuid.UUID, *, column: str, value: uuid.UUID) -> bool:
    condition = and_(r.c.org_id == org_id, r.c[column] == value, r.c.status == DEPLOYED)
    return bool(conn.scalar(select(exists().where(condition))))
