"""Inventory snapshots (SPEC §7): each scope's last applied snapshot and the workloads
it reported running without evidence.

A scope is what one reporter owns inside an (environment, logical environment).
`sync_scopes` keeps one row per scope — its last snapshot — rather than every
snapshot: a reporter syncing every minute would otherwise grow a table by 1,440
rows a day that nobody reads. What a snapshot changed is in the records and in
the audit log; `unattested_workloads` is the scope's current list, replaced by
each snapshot.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    delete,
    func,
    insert,
    select,
    update,
)

from deploytrace.storage.base import BigSerial, UTCDateTime, metadata
from deploytrace.storage.environments import environments, logical_environments

sync_scopes = Table(
    "sync_scopes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("environment_id", Uuid, ForeignKey("environments.id"), nullable=False),
    Column("logical_environment_id", Uuid, ForeignKey("logical_environments.id"), nullable=False),
    Column("scope", String(255), nullable=False),
    Column("snapshot_id", Uuid, nullable=False),  # the last applied snapshot
    Column("observed_at", UTCDateTime, nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
    Column("reported_by", String(63)),
    Column("summary", JSON, nullable=False),  # counts of what it did
    UniqueConstraint(
        "org_id", "environment_id", "logical_environment_id", "scope", name="uq_sync_scopes_scope"
    ),
)

unattested_workloads = Table(
    "unattested_workloads",
    metadata,
    Column("seq", BigSerial, primary_key=True, autoincrement=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("environment_id", Uuid, ForeignKey("environments.id"), nullable=False),
    Column("logical_environment_id", Uuid, ForeignKey("logical_environments.id"), nullable=False),
    Column("scope", String(255), nullable=False),
    Column("deployment_name", String(253), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("digest", String(135)),  # NULL: the runtime reported no repository digest
    Column("artifact_name", String(512)),
    Column("artifact_version", String(256)),
    Column("reason", String(32), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    UniqueConstraint(
        "org_id",
        "environment_id",
        "logical_environment_id",
        "scope",
        "deployment_name",
        "kind",
        name="uq_unattested_workloads_workload",
    ),
    Index("ix_unattested_workloads_org_id_seq", "org_id", "seq"),
)


@dataclass(frozen=True)
class ScopeRow:
    environment: str
    logical_environment: str
    scope: str
    snapshot_id: uuid.UUID
    observed_at: dt.datetime
    applied_at: dt.datetime
    reported_by: str | None
    summary: dict[str, Any]


@dataclass(frozen=True)
class UnattestedRow:
    seq: int
    environment: str
    logical_environment: str
    scope: str
    deployment_name: str
    kind: str
    digest: str | None
    artifact_name: str | None
    artifact_version: str | None
    reason: str
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


@dataclass(frozen=True)
class Workload:
    """One unattested workload as a snapshot reports it."""

    deployment_name: str
    kind: str
    digest: str | None
    artifact_name: str | None
    artifact_version: str | None
    reason: str


def get_scope(
    conn: Connection,
    org_id: uuid.UUID,
    environment_id: uuid.UUID,
    logical_environment_id: uuid.UUID,
    scope: str,
) -> tuple[uuid.UUID, dt.datetime] | None:
    """(row id, observed_at) of the scope's last applied snapshot."""
    t = sync_scopes
    row = conn.execute(
        select(t.c.id, t.c.observed_at).where(
            t.c.org_id == org_id,
            t.c.environment_id == environment_id,
            t.c.logical_environment_id == logical_environment_id,
            t.c.scope == scope,
        )
    ).first()
    return (row.id, row.observed_at) if row else None


def save_scope(conn: Connection, row_id: uuid.UUID | None, values: dict[str, Any]) -> None:
    if row_id is None:
        conn.execute(insert(sync_scopes).values(id=uuid.uuid4(), **values))
    else:
        conn.execute(update(sync_scopes).where(sync_scopes.c.id == row_id).values(**values))


def replace_unattested(
    conn: Connection,
    org_id: uuid.UUID,
    environment_id: uuid.UUID,
    logical_environment_id: uuid.UUID,
    scope: str,
    workloads: list[Workload],
    now: dt.datetime,
) -> list[Workload]:
    """Make the scope's unattested list `workloads`; return those that are new to it."""
    t = unattested_workloads
    mine = (
        t.c.org_id == org_id,
        t.c.environment_id == environment_id,
        t.c.logical_environment_id == logical_environment_id,
        t.c.scope == scope,
    )
    known = {
        (row.deployment_name, row.kind): row
        for row in conn.execute(
            select(t.c.seq, t.c.deployment_name, t.c.kind, t.c.digest).where(*mine)
        )
    }
    listed = {(w.deployment_name, w.kind): w for w in workloads}
    gone = [known[key].seq for key in known.keys() - listed.keys()]
    for chunk in _chunks(gone):
        conn.execute(delete(t).where(t.c.seq.in_(chunk)))
    fresh: list[Workload] = []
    inserts = []
    for key, w in listed.items():
        values = {
            "digest": w.digest,
            "artifact_name": w.artifact_name,
            "artifact_version": w.artifact_version,
            "reason": w.reason,
            "last_seen_at": now,
        }
        old = known.get(key)
        if old is None:
            fresh.append(w)
            inserts.append(
                {
                    "org_id": org_id,
                    "environment_id": environment_id,
                    "logical_environment_id": logical_environment_id,
                    "scope": scope,
                    "deployment_name": w.deployment_name,
                    "kind": w.kind,
                    "first_seen_at": now,
                    **values,
                }
            )
            continue
        if old.digest != w.digest:
            fresh.append(w)  # a different unattested digest: news again
            values["first_seen_at"] = now
        conn.execute(update(t).where(t.c.seq == old.seq).values(**values))
    if inserts:
        conn.execute(insert(t), inserts)
    return fresh


def _chunks(values: list[int], size: int = 500) -> list[list[int]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


_u = unattested_workloads
_unattested_columns = (
    _u.c.seq,
    environments.c.name.label("environment"),
    logical_environments.c.name.label("logical_environment"),
    _u.c.scope,
    _u.c.deployment_name,
    _u.c.kind,
    _u.c.digest,
    _u.c.artifact_name,
    _u.c.artifact_version,
    _u.c.reason,
    _u.c.first_seen_at,
    _u.c.last_seen_at,
)


def _unattested_view() -> Any:
    return (
        select(*_unattested_columns)
        .join(environments, environments.c.id == _u.c.environment_id)
        .join(logical_environments, logical_environments.c.id == _u.c.logical_environment_id)
    )


def unattested_page(
    conn: Connection,
    org_id: uuid.UUID,
    *,
    environment_ids: list[uuid.UUID] | None,
    logical_environment_ids: list[uuid.UUID] | None,
    before_seq: int | None,
    limit: int,
) -> list[UnattestedRow]:
    """Newest first."""
    query = _unattested_view().where(_u.c.org_id == org_id)
    if environment_ids is not None:
        query = query.where(_u.c.environment_id.in_(environment_ids))
    if logical_environment_ids is not None:
        query = query.where(_u.c.logical_environment_id.in_(logical_environment_ids))
    if before_seq is not None:
        query = query.where(_u.c.seq < before_seq)
    rows = conn.execute(query.order_by(_u.c.seq.desc()).limit(limit))
    return [UnattestedRow(**row._mapping) for row in rows]


def unattested_of_environment(
    conn: Connection, org_id: uuid.UUID, environment_id: uuid.UUID, limit: int
) -> list[UnattestedRow]:
    query = (
        _unattested_view()
        .where(_u.c.org_id == org_id, _u.c.environment_id == environment_id)
        .order_by(logical_environments.c.name, _u.c.scope, _u.c.deployment_name, _u.c.kind)
        .limit(limit)
    )
    return [UnattestedRow(**row._mapping) for row in conn.execute(query)]


def scopes_of_environment(
    conn: Connection, org_id: uuid.UUID, environment_id: uuid.UUID
) -> list[ScopeRow]:
    t = sync_scopes
    query = (
        select(
            environments.c.name.label("environment"),
            logical_environments.c.name.label("logical_environment"),
            t.c.scope,
            t.c.snapshot_id,
            t.c.observed_at,
            t.c.applied_at,
            t.c.reported_by,
            t.c.summary,
        )
        .join(environments, environments.c.id == t.c.environment_id)
        .join(logical_environments, logical_environments.c.id == t.c.logical_environment_id)
        .where(t.c.org_id == org_id, t.c.environment_id == environment_id)
        .order_by(logical_environments.c.name, t.c.scope)
    )
    return [ScopeRow(**row._mapping) for row in conn.execute(query)]


def count_unattested(conn: Connection, org_id: uuid.UUID) -> list[tuple[str, str, int]]:
    """(environment, logical environment, count) of the org's unattested workloads."""
    query = (
        select(environments.c.name, logical_environments.c.name, func.count())
        .select_from(_u)
        .join(environments, environments.c.id == _u.c.environment_id)
        .join(logical_environments, logical_environments.c.id == _u.c.logical_environment_id)
        .where(_u.c.org_id == org_id)
        .group_by(environments.c.name, logical_environments.c.name)
    )
    return [(str(a), str(b), int(c)) for a, b, c in conn.execute(query)]
