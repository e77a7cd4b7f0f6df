"""Insight queries (SPEC §8): the environment diff and the facts DORA is computed from.

Both are answered from the slot table and per-slot index probes, so their cost
follows what they answer (the slots compared, the deployments in a window), never
the length of the histories behind them:

- a slot's latest record: a backward probe of `(slot_id, created_at, seq)`;
- a slot's deployed record: the partial unique index on the active slot;
- when a slot last ran a digest, and whether it ran it before: a probe of
  `(slot_id, artifact_digest, created_at, seq)`;
- the records after that instant: a range of `(slot_id, created_at, seq)`.

Within one slot, `(created_at, seq)` is the order changes happened in (SPEC §7:
a change observed before the slot's latest observation is refused).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    distinct,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
)

from deploytrace.storage.artifacts import ATTESTING_ROLES, artifact_refs
from deploytrace.storage.attestations import attestations
from deploytrace.storage.base import UTCDateTime
from deploytrace.storage.deployments import (
    RecordRow,
    deployment_records,
    deployment_slots,
)
from deploytrace.storage.environments import environments, logical_environments

r = deployment_records
s_ = deployment_slots
# Inlined rather than bound, so that the planner can match the partial indexes'
# predicate whatever plan it caches.
_DEPLOYED: ColumnElement[str] = literal_column("'deployed'")
_CHUNK = 500


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _after(rec: Any, created_at: Any, seq: Any) -> ColumnElement[bool]:
    """`(rec.created_at, rec.seq) > (created_at, seq)`, its first term bounding the range."""
    return and_(
        rec.c.created_at >= created_at,
        or_(rec.c.created_at > created_at, rec.c.seq > seq),
    )


def _active_of(rec: Any, slot: Any) -> ColumnElement[bool]:
    """`rec` is the slot's deployed record, found through the partial unique index."""
    return and_(
        rec.c.org_id == slot.c.org_id,
        rec.c.environment_id == slot.c.environment_id,
        rec.c.logical_environment_id == slot.c.logical_environment_id,
        rec.c.deployment_name == slot.c.deployment_name,
        rec.c.kind == slot.c.kind,
        rec.c.status == _DEPLOYED,
    )


# Diff ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """Which slots one side of a diff is: a logical environment (in some environments),
    or one environment in one logical environment."""

    logical_environment_id: uuid.UUID
    environment_ids: list[uuid.UUID] | None = None  # None: every environment


@dataclass(frozen=True)
class SlotState:
    """A slot of a diff side: its deployed record, and when it last changed."""

    slot_id: int
    environment_id: uuid.UUID
    logical_environment_id: uuid.UUID
    deployment_name: str
    kind: str
    active: RecordRow | None
    changed_at: dt.datetime  # its latest record's creation or end, heartbeats aside


def _side_filter(slot: Any, side: Side) -> list[ColumnElement[bool]]:
    where = [slot.c.logical_environment_id == side.logical_environment_id]
    if side.environment_ids is not None:
        where.append(slot.c.environment_id.in_(side.environment_ids))
    return where


def tune(conn: Connection) -> None:
    """Before these queries, on PostgreSQL: no JIT compilation in this transaction.

    Their correlated subplans make large cost estimates, which buy a JIT compile of
    100 ms and more for what is a few thousand index probes of microseconds each.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")


_OWN = [
    f
    for f in RecordRow.__dataclass_fields__
    if f not in ("environment", "logical_environment", "stale_after_seconds")
]


def slot_states(conn: Connection, org_id: uuid.UUID, sides: list[Side]) -> list[SlotState]:
    """Every slot of the sides, in one statement: its deployed record (a probe of the
    partial unique index per slot) or, when it runs nothing, when its latest record ended.
    """
    if conn.dialect.name == "postgresql":
        # LATERAL with a LIMIT (which keeps it from being flattened into a plain join):
        # a probe per slot, whatever the planner thinks of hashing every deployed
        # record of the org instead. A slot has one deployed record at most anyway.
        active: Any = select(r).where(_active_of(r, s_)).limit(1).lateral("active")
        joined = s_.outerjoin(active, true())
    else:
        active = r
        joined = s_.outerjoin(r, _active_of(r, s_))
    latest_end = (
        select(r.c.ended_at)
        .where(r.c.slot_id == s_.c.id)
        .order_by(r.c.created_at.desc(), r.c.seq.desc())
        .limit(1)
        .correlate(s_)
        .scalar_subquery()
    )
    query = (
        select(
            s_.c.id.label("slot_"),
            s_.c.environment_id.label("environment_id_"),
            s_.c.logical_environment_id.label("logical_environment_id_"),
            s_.c.deployment_name.label("deployment_name_"),
            s_.c.kind.label("kind_"),
            case((active.c.seq.is_(None), latest_end), else_=active.c.created_at).label(
                "changed_at_"
            ),
            *(active.c[name] for name in _OWN),
            environments.c.name.label("environment"),
            logical_environments.c.name.label("logical_environment"),
            environments.c.stale_after_seconds,
        )
        .select_from(
            joined.join(environments, environments.c.id == s_.c.environment_id).join(
                logical_environments, logical_environments.c.id == s_.c.logical_environment_id
            )
        )
        .where(s_.c.org_id == org_id, or_(*(and_(*_side_filter(s_, side)) for side in sides)))
    )
    found = []
    for row in conn.execute(query):
        fields = row._mapping
        record = None
        if fields["seq"] is not None:
            record = RecordRow(**{k: fields[k] for k in RecordRow.__dataclass_fields__})
        if fields["changed_at_"] is None:
            continue  # never: a slot is created with its first record
        found.append(
            SlotState(
                slot_id=int(fields["slot_"]),
                environment_id=fields["environment_id_"],
                logical_environment_id=fields["logical_environment_id_"],
                deployment_name=fields["deployment_name_"],
                kind=fields["kind_"],
                active=record,
                changed_at=_time(fields["changed_at_"]),
            )
        )
    return found


def behind(conn: Connection, org_id: uuid.UUID, source: Side, target: Side) -> dict[int, int]:
    """For each `source` slot whose deployed digest differs from its `target` counterpart's:
    the distinct digests it deployed after it last ran the target's digest.

    Counterparts share deployment name and kind, and the environment too when both
    sides span environments. Slots that never ran the target's digest are absent.
    """
    f, t = s_.alias("f"), s_.alias("t")
    fa, ta, last, later = r.alias("fa"), r.alias("ta"), r.alias("last"), r.alias("later")
    pairing = [
        t.c.org_id == f.c.org_id,
        t.c.deployment_name == f.c.deployment_name,
        t.c.kind == f.c.kind,
        *_side_filter(t, target),
    ]
    if source.environment_ids is None or target.environment_ids is None:
        pairing.append(t.c.environment_id == f.c.environment_id)

    def last_ran(column: Any) -> Any:
        return (
            select(column)
            .where(last.c.slot_id == f.c.id, last.c.artifact_digest == ta.c.artifact_digest)
            .order_by(last.c.created_at.desc(), last.c.seq.desc())
            .limit(1)
            .scalar_subquery()
        )

    pairs = (
        select(
            f.c.id.label("slot_id"),
            last_ran(last.c.created_at).label("last_at"),
            last_ran(last.c.seq).label("last_seq"),
        )
        .select_from(f)
        .join(t, and_(*pairing))
        .join(fa, _active_of(fa, f))
        .join(ta, _active_of(ta, t))
        .where(
            f.c.org_id == org_id,
            *_side_filter(f, source),
            fa.c.artifact_digest != ta.c.artifact_digest,
        )
        .subquery("pairs")
    )
    count = (
        select(func.count(distinct(later.c.artifact_digest)))
        .where(
            later.c.slot_id == pairs.c.slot_id,
            _after(later, pairs.c.last_at, pairs.c.last_seq),
            # A column no index holds: without it PostgreSQL prefers an index-only scan
            # of the digest index, which cannot bound `created_at` and so reads the
            # slot's whole history; the `(slot_id, created_at, seq)` range reads only
            # what came after.
            later.c.heartbeats >= 0,
        )
        .scalar_subquery()
    )
    query = select(pairs.c.slot_id, count.label("behind")).where(pairs.c.last_seq.is_not(None))
    return {int(row.slot_id): int(row.behind) for row in conn.execute(query)}


# DORA ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentFacts:
    """One deployment (a record created in the window) and what its slot did next."""

    digest: str
    created_at: dt.datetime
    ended_at: dt.datetime | None
    ended_reason: str | None
    next_created_at: dt.datetime | None  # the slot's next record, if any
    next_is_rollback: bool  # that record deploys a digest the slot ran before it
    first_attested_at: dt.datetime | None  # its digest's earliest attestation time


@dataclass(frozen=True)
class Window:
    org_id: uuid.UUID
    logical_environment_ids: list[uuid.UUID]
    start: dt.datetime
    end: dt.datetime  # exclusive
    environment_ids: list[uuid.UUID] | None = None
    deployment_name: str | None = None


_SUPERSEDED: ColumnElement[str] = literal_column("'superseded'")
_DECOMMISSIONED: ColumnElement[str] = literal_column("'decommissioned'")


def deployments(conn: Connection, window: Window) -> list[DeploymentFacts]:
    """The records created in [start, end) in the window's scope, oldest first, each with
    its slot's next record, in one statement: a range of a `(…, created_at, seq)` index
    and, per deployment, a probe or two by unique key or slot.

    A superseded record's next record is its successor (`superseded_by`), created when it
    ended; a decommissioned one's is the slot's next record, if any, found by time.
    """
    nxt, successor, before = r.alias("nxt"), r.alias("successor"), r.alias("before")
    where: list[ColumnElement[bool]] = [
        r.c.org_id == window.org_id,
        r.c.logical_environment_id.in_(window.logical_environment_ids),
        r.c.created_at >= window.start,
        r.c.created_at < window.end,
    ]
    if window.environment_ids is not None:
        where.append(r.c.environment_id.in_(window.environment_ids))
    if window.deployment_name is not None:
        where.append(r.c.deployment_name == window.deployment_name)
    after_decommission = (
        select(nxt.c.created_at)
        .where(nxt.c.slot_id == r.c.slot_id, _after(nxt, r.c.created_at, r.c.seq))
        .order_by(nxt.c.created_at, nxt.c.seq)
        .limit(1)
        .scalar_subquery()
    )
    successor_digest = (
        select(successor.c.artifact_digest)
        .where(successor.c.id == r.c.superseded_by)
        .correlate(r)  # two levels down: auto-correlation only looks one level up
        .scalar_subquery()
    )
    # The successor deploys a digest the slot ran before it: at or before this record.
    rollback = exists().where(
        before.c.slot_id == r.c.slot_id,
        before.c.artifact_digest == successor_digest,
        before.c.created_at <= r.c.created_at,
        or_(before.c.created_at < r.c.created_at, before.c.seq <= r.c.seq),
    )
    ar, a = artifact_refs, attestations
    # Per deployment: the digest's attestations by the (org_id, digest, ...) index, each
    # by primary key. Few per digest (one per build, plus SBOMs and scans).
    first_attested = (
        select(func.min(func.coalesce(a.c.built_at, a.c.created_at)))
        .select_from(ar.join(a, a.c.seq == ar.c.attestation_seq))
        .where(
            ar.c.org_id == r.c.org_id,
            ar.c.digest == r.c.artifact_digest,
            ar.c.role.in_(ATTESTING_ROLES),
        )
        .correlate(r)
        .scalar_subquery()
    )
    query = (
        select(
            r.c.artifact_digest,
            r.c.created_at,
            r.c.ended_at,
            r.c.ended_reason,
            case(
                (r.c.ended_reason == _SUPERSEDED, r.c.ended_at),
                (r.c.ended_reason == _DECOMMISSIONED, after_decommission),
            ).label("next_created_at"),
            case((r.c.ended_reason == _SUPERSEDED, rollback), else_=false()).label("rollback"),
            type_coerce(first_attested, UTCDateTime).label("first_attested"),
        )
        .where(*where)
        .order_by(r.c.created_at, r.c.seq)
    )
    return [
        DeploymentFacts(
            digest=digest,
            created_at=created,
            ended_at=ended,
            ended_reason=reason,
            next_created_at=_time(following) if following is not None else None,
            next_is_rollback=bool(back),
            first_attested_at=_time(first) if first is not None else None,
        )
        for digest, created, ended, reason, following, back, first in conn.execute(query)
    ]


def _time(value: Any) -> dt.datetime:
    """A time from a row: aware already, or (an aggregate on SQLite) the stored text."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
