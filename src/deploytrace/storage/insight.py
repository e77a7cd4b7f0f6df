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
    distinct,
    exists,
    func,
    literal_column,
    or_,
    select,
)

from deploytrace.storage.base import UTCDateTime
from deploytrace.storage.deployments import (
    RecordRow,
    _record,
    _view,
    deployment_records,
    deployment_slots,
)
from deploytrace.storage.evidence import ATTESTING_ROLES, artifact_refs, attestations

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
    """A slot of a diff side and its newest record (the deployed one, if any)."""

    slot_id: int
    environment_id: uuid.UUID
    logical_environment_id: uuid.UUID
    deployment_name: str
    kind: str
    latest: RecordRow


def _side_filter(slot: Any, side: Side) -> list[ColumnElement[bool]]:
    where = [slot.c.logical_environment_id == side.logical_environment_id]
    if side.environment_ids is not None:
        where.append(slot.c.environment_id.in_(side.environment_ids))
    return where


def slot_states(conn: Connection, org_id: uuid.UUID, sides: list[Side]) -> list[SlotState]:
    """Every slot of the sides that has a record, with its newest record."""
    latest = (
        select(r.c.seq)
        .where(r.c.slot_id == s_.c.id)
        .order_by(r.c.created_at.desc(), r.c.seq.desc())
        .limit(1)
        .correlate(s_)
        .scalar_subquery()
    )
    slots = select(
        s_.c.id,
        s_.c.environment_id,
        s_.c.logical_environment_id,
        s_.c.deployment_name,
        s_.c.kind,
        latest.label("latest_seq"),
    ).where(s_.c.org_id == org_id, or_(*(and_(*_side_filter(s_, side)) for side in sides)))
    found = [row for row in conn.execute(slots) if row.latest_seq is not None]
    records: dict[int, RecordRow] = {}
    for chunk in _chunks([row.latest_seq for row in found]):
        for row in conn.execute(_view().where(r.c.seq.in_(chunk))):
            record = _record(row)
            records[record.seq] = record
    return [
        SlotState(
            slot_id=int(row.id),
            environment_id=row.environment_id,
            logical_environment_id=row.logical_environment_id,
            deployment_name=row.deployment_name,
            kind=row.kind,
            latest=records[row.latest_seq],
        )
        for row in found
    ]


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
        .where(later.c.slot_id == pairs.c.slot_id, _after(later, pairs.c.last_at, pairs.c.last_seq))
        .scalar_subquery()
    )
    query = select(pairs.c.slot_id, count.label("behind")).where(pairs.c.last_seq.is_not(None))
    return {int(row.slot_id): int(row.behind) for row in conn.execute(query)}


# DORA ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentFacts:
    """One deployment (a record created in the window) and what its slot did next."""

    seq: int
    slot_id: int
    digest: str
    created_at: dt.datetime
    ended_at: dt.datetime | None
    ended_reason: str | None
    next_created_at: dt.datetime | None  # the slot's next record, if any
    next_is_rollback: bool  # that record deploys a digest the slot ran before it


@dataclass(frozen=True)
class Window:
    org_id: uuid.UUID
    logical_environment_ids: list[uuid.UUID]
    start: dt.datetime
    end: dt.datetime  # exclusive
    environment_ids: list[uuid.UUID] | None = None
    deployment_name: str | None = None


def deployments(conn: Connection, window: Window) -> list[DeploymentFacts]:
    """The records created in [start, end) in the window's scope, oldest first, each
    with its slot's next record: one range of a `(…, created_at, seq)` index and two
    index probes per deployment."""
    nxt, before = r.alias("nxt"), r.alias("before")
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
    next_seq = (
        select(nxt.c.seq)
        .where(nxt.c.slot_id == r.c.slot_id, _after(nxt, r.c.created_at, r.c.seq))
        .order_by(nxt.c.created_at, nxt.c.seq)
        .limit(1)
        .scalar_subquery()
    )
    found = (
        select(
            r.c.seq,
            r.c.slot_id,
            r.c.artifact_digest,
            r.c.created_at,
            r.c.ended_at,
            r.c.ended_reason,
            next_seq.label("next_seq"),
        )
        .where(*where)
        .subquery("found")
    )
    ran_before = exists().where(
        before.c.slot_id == found.c.slot_id,
        before.c.artifact_digest == nxt.c.artifact_digest,
        before.c.created_at <= nxt.c.created_at,
        or_(before.c.created_at < nxt.c.created_at, before.c.seq < nxt.c.seq),
    )
    query = (
        select(found, nxt.c.created_at.label("next_created_at"), ran_before.label("rollback"))
        .select_from(found.outerjoin(nxt, nxt.c.seq == found.c.next_seq))
        .order_by(found.c.created_at, found.c.seq)
    )
    return [
        DeploymentFacts(
            seq=int(row.seq),
            slot_id=int(row.slot_id),
            digest=row.artifact_digest,
            created_at=_time(row.created_at),
            ended_at=_time(row.ended_at) if row.ended_at is not None else None,
            ended_reason=row.ended_reason,
            next_created_at=(
                _time(row.next_created_at) if row.next_created_at is not None else None
            ),
            next_is_rollback=bool(row.rollback) and row.next_seq is not None,
        )
        for row in conn.execute(query)
    ]


def first_attested(
    conn: Connection, org_id: uuid.UUID, digests: Sequence[str]
) -> dict[str, dt.datetime]:
    """Each digest's earliest attestation time: the build finish an attestation states,
    else when it was pushed; digests no attestation names are absent."""
    ar, a = artifact_refs, attestations
    earliest = func.min(func.coalesce(a.c.built_at, a.c.created_at), type_=UTCDateTime)
    found: dict[str, dt.datetime] = {}
    for chunk in _chunks(sorted(set(digests))):
        query = (
            select(ar.c.digest, earliest.label("at"))
            .select_from(ar.join(a, a.c.seq == ar.c.attestation_seq))
            .where(
                ar.c.org_id == org_id,
                ar.c.digest.in_(chunk),
                ar.c.role.in_(ATTESTING_ROLES),
            )
            .group_by(ar.c.digest)
        )
        for row in conn.execute(query):
            found[row.digest] = _time(row.at)
    return found


def _time(value: Any) -> dt.datetime:
    """A time from a row: aware already, or (an aggregate on SQLite) the stored text."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
