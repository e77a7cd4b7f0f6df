"""Deployment slots and records: the tables, their indexes and their queries.

A slot is (org, environment, logical environment, deployment name, kind), one row
of `deployment_slots`, created with its first record. The partial unique index
`uq_deployment_records_active_slot` is the database's own guarantee that a slot
never holds two `deployed` records.

Lists are newest first by `created_at`, ties by `seq` (insertion order): with
`--observed-at` a record can be created at an earlier instant than one stored
before it, and it sorts where it happened. Every list index ends with
`(created_at, seq)` so that any page, however deep, is an index range scan.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ColumnElement,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from deploytrace.storage.base import BigSerial, UTCDateTime, metadata
from deploytrace.storage.environments import environments, logical_environments
from deploytrace.storage.tenancy import TOKEN_LIVE
from deploytrace.vocabulary import EndedReason, Status

DEPLOYED = Status.DEPLOYED.value
SUPERSEDED = Status.SUPERSEDED.value
DECOMMISSIONED = Status.DECOMMISSIONED.value

_ACTIVE = "status = 'deployed'"

deployment_slots = Table(
    "deployment_slots",
    metadata,
    Column("id", BigSerial, primary_key=True, autoincrement=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("environment_id", Uuid, ForeignKey("environments.id"), nullable=False),
    Column("logical_environment_id", Uuid, ForeignKey("logical_environments.id"), nullable=False),
    Column("deployment_name", String(253), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint(
        "org_id",
        "environment_id",
        "logical_environment_id",
        "deployment_name",
        "kind",
        name="uq_deployment_slots_slot",
    ),
)

deployment_records = Table(
    "deployment_records",
    metadata,
    Column("seq", BigSerial, primary_key=True, autoincrement=True),
    Column("id", Uuid, nullable=False, unique=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("slot_id", BigInteger, ForeignKey("deployment_slots.id"), nullable=False),
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
    Column("ended_reason", String(16)),
    # The snapshot scope that owns the record (SPEC §7); NULL for `deployment record`'s.
    Column("scope", String(255)),
    # The CI run that reported the record's creation (SPEC §8 reported_by.ci).
    Column("reported_ci", JSON),
    # The logical environment the digest skipped on its way here (SPEC §8).
    Column("promotion_skipped", String(63)),
    # The policy verdict when the record was created (SPEC §9).
    Column("policy", JSON),
    CheckConstraint(f"status IN ('{DEPLOYED}', '{SUPERSEDED}', '{DECOMMISSIONED}')", name="status"),
    CheckConstraint("kind IN ('CONTAINER_IMAGE', 'HELM_CHART')", name="kind"),
    CheckConstraint(
        "ended_reason IS NULL OR ended_reason IN "
        "('superseded', 'decommissioned', 'absent', 'replaced')",
        name="ended_reason",
    ),
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
    # A slot's history in time order: its latest record, its next change (DORA), --at.
    Index("ix_deployment_records_slot_id_created_at_seq", "slot_id", "created_at", "seq"),
    # When a slot last ran a digest (diff's `behind`, DORA's rollbacks): migration 0006.
    Index(
        "ix_deployment_records_slot_id_artifact_digest_created_at_seq",
        "slot_id",
        "artifact_digest",
        "created_at",
        "seq",
    ),
    Index("ix_deployment_records_org_created", "org_id", "created_at", "seq"),
    Index("ix_deployment_records_org_env_created", "org_id", "environment_id", "created_at", "seq"),
    Index(
        "ix_deployment_records_org_lenv_created",
        "org_id",
        "logical_environment_id",
        "created_at",
        "seq",
    ),
    Index(
        "ix_deployment_records_org_env_lenv_created",
        "org_id",
        "environment_id",
        "logical_environment_id",
        "created_at",
        "seq",
    ),
    Index(
        "ix_deployment_records_org_name_created", "org_id", "deployment_name", "created_at", "seq"
    ),
    Index(
        "ix_deployment_records_org_digest_created", "org_id", "artifact_digest", "created_at", "seq"
    ),
    # Time travel: what ended after an instant (the rest of what ran then is still active).
    Index("ix_deployment_records_org_ended", "org_id", "ended_at"),
    # The active views: small partial indexes that stay small however long history grows.
    Index(
        "ix_deployment_records_active_org_created",
        "org_id",
        "created_at",
        "seq",
        postgresql_where=_ACTIVE,
        sqlite_where=_ACTIVE,
    ),
    Index(
        "ix_deployment_records_active_org_lenv_created",
        "org_id",
        "logical_environment_id",
        "created_at",
        "seq",
        postgresql_where=_ACTIVE,
        sqlite_where=_ACTIVE,
    ),
    Index(
        "ix_deployment_records_active_org_env_created",
        "org_id",
        "environment_id",
        "created_at",
        "seq",
        postgresql_where=_ACTIVE,
        sqlite_where=_ACTIVE,
    ),
    # Where does an artifact run now (vulnerability search, SPEC §10).
    Index(
        "ix_deployment_records_active_org_digest",
        "org_id",
        "artifact_digest",
        postgresql_where=_ACTIVE,
        sqlite_where=_ACTIVE,
    ),
    Index(
        "ix_deployment_records_skipped_org_created",
        "org_id",
        "created_at",
        "seq",
        postgresql_where="promotion_skipped IS NOT NULL",
        sqlite_where="promotion_skipped IS NOT NULL",
    ),
)

r = deployment_records
s_ = deployment_slots


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
    id: int | None = None  # None until the slot's first record exists

    @property
    def key(self) -> tuple[object, ...]:
        return (
            self.org_id,
            self.environment_id,
            self.logical_environment_id,
            self.deployment_name,
            self.kind,
        )

    @property
    def label(self) -> str:
        """ENV/LOGICAL_ENV/NAME/KIND: how messages, audit entries and events name a slot."""
        return f"{self.environment}/{self.logical_environment}/{self.deployment_name}/{self.kind}"


@dataclass(frozen=True)
class RecordRow:
    """A record as stored, with its environment names (and staleness rule) joined in."""

    seq: int
    id: uuid.UUID
    slot_id: int
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
    recorded_by: str | None
    ended_reason: str | None
    scope: str | None
    reported_ci: dict[str, Any] | None
    promotion_skipped: str | None
    policy: dict[str, Any] | None
    stale_after_seconds: int | None

    @property
    def latest_observation(self) -> dt.datetime:
        """The newest instant this record says something about."""
        return max(t for t in (self.created_at, self.last_seen_at, self.ended_at) if t)


_own_columns = (
    r.c.seq,
    r.c.id,
    r.c.slot_id,
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
    r.c.recorded_by,
    r.c.ended_reason,
    r.c.scope,
    r.c.reported_ci,
    r.c.promotion_skipped,
    r.c.policy,
)
_view_columns = (
    *_own_columns,
    environments.c.name.label("environment"),
    logical_environments.c.name.label("logical_environment"),
    environments.c.stale_after_seconds,
)


def view() -> Select[tuple[object, ...]]:
    return (
        select(*_view_columns)
        .join(environments, environments.c.id == r.c.environment_id)
        .join(logical_environments, logical_environments.c.id == r.c.logical_environment_id)
    )


def record_of(row: Any) -> RecordRow:
    return RecordRow(**row._mapping)


def _record_in(row: Any, slot: Slot, stale_after_seconds: int | None) -> RecordRow:
    return RecordRow(
        **row._mapping,
        environment=slot.environment,
        logical_environment=slot.logical_environment,
        stale_after_seconds=stale_after_seconds,
    )


# The write path runs on every deploy and heartbeat: its statements are built
# once, with bind parameters, so each execution skips SQLAlchemy's expression
# construction and goes straight to the compiled-statement cache.


def _live(table: Table, name_param: str) -> Any:
    return (
        table.c.org_id == bindparam("org"),
        table.c.name == bindparam(name_param),
        table.c.deleted_at.is_(None),
    )


def _live_id(table: Table, name_param: str) -> Any:
    return select(table.c.id).where(*_live(table, name_param)).scalar_subquery()


def _not_before(column: Any, param: str) -> Any:
    """`:param`, or `column` if it is later.

    The server's clock is read before the statement waits for the row lock, so a
    writer that queued behind another may carry an earlier time than what it
    follows. Taking the later of the two keeps every record's times in commit
    order: last seen never goes back, and a record never ends before it was last
    seen (a heartbeat that just committed) — the successor then starts at that end.
    """
    at = bindparam(param, type_=UTCDateTime)
    return case((column > at, column), else_=at)


_HEARTBEAT_STALE_AFTER = (
    select(environments.c.stale_after_seconds).where(*_live(environments, "env")).scalar_subquery()
)
# A heartbeat in one statement: the row lock it takes serializes it with a
# concurrent supersede, and it matches nothing once the record stopped being
# the deployed one, so it never needs the slot lock. `:seen` is when the
# report saw it running, `:now` the server's clock.
_HEARTBEAT_IN_SLOT = (
    r.c.org_id == bindparam("org"),
    r.c.environment_id == _live_id(environments, "env"),
    r.c.logical_environment_id == _live_id(logical_environments, "lenv"),
    r.c.deployment_name == bindparam("name"),
    r.c.kind == bindparam("kind_"),
    r.c.status == DEPLOYED,
    r.c.artifact_digest == bindparam("digest"),
)


def _heartbeat_statement(*, observed: bool, confirm_token: bool) -> Any:
    """`observed`: with an explicit `--observed-at`, a report older than what the record
    knows moves nothing. `confirm_token`: it also matches nothing once the caller's
    token (`:token`) is revoked or expired (tenancy.TOKEN_LIVE)."""
    where = [*_HEARTBEAT_IN_SLOT]
    if observed:
        where.append(r.c.last_seen_at <= bindparam("seen", type_=UTCDateTime))
    if confirm_token:
        where.append(TOKEN_LIVE)
    seen = (
        bindparam("seen", type_=UTCDateTime) if observed else _not_before(r.c.last_seen_at, "seen")
    )
    return (
        update(r)
        .where(*where)
        .values(
            last_seen_at=seen,
            updated_at=_not_before(r.c.updated_at, "now"),
            heartbeats=r.c.heartbeats + 1,
        )
        .returning(*_own_columns, _HEARTBEAT_STALE_AFTER.label("stale_after_seconds"))
    )


# (observed, confirm_token) -> the statement, built once.
_HEARTBEATS = {
    (observed, confirm): _heartbeat_statement(observed=observed, confirm_token=confirm)
    for observed in (False, True)
    for confirm in (False, True)
}
_ACTIVE_IN_SLOT = select(*_own_columns).where(
    r.c.slot_id == bindparam("slot"), r.c.status == DEPLOYED
)
_LATEST = (
    select(*_own_columns)
    .where(r.c.slot_id == bindparam("slot"))
    .order_by(r.c.created_at.desc(), r.c.seq.desc())
    .limit(1)
)
_INSERT = insert(r).returning(*_own_columns)
# SPEC §8 in the INSERT itself: the logical environment before this one
# (:previous_id, :previous_name) is recorded as skipped unless the digest ran there
# before the record's start.
_RAN_BEFORE = exists().where(
    r.c.org_id == bindparam("ran_org", type_=Uuid),
    r.c.artifact_digest == bindparam("ran_digest", type_=String),
    r.c.logical_environment_id == bindparam("previous_id", type_=Uuid),
    r.c.created_at < bindparam("ran_before", type_=UTCDateTime),
)
_INSERT_PROMOTED = (
    insert(r)
    .values(
        promotion_skipped=case(
            (bindparam("previous_id", type_=Uuid).is_(None), None),
            (_RAN_BEFORE, None),
            else_=bindparam("previous_name", type_=String),
        )
    )
    .returning(*_own_columns)
)
_END = (
    update(r)
    .where(r.c.seq == bindparam("seq_"))
    .values(
        status=bindparam("status_"),
        ended_reason=bindparam("reason_"),
        ended_at=_not_before(r.c.last_seen_at, "at"),
        updated_at=_not_before(r.c.updated_at, "now"),
        superseded_by=bindparam("successor"),
    )
    .returning(*_own_columns)
)


def _slot_values(slot: Slot) -> dict[str, object]:
    return {
        "org_id": slot.org_id,
        "environment_id": slot.environment_id,
        "logical_environment_id": slot.logical_environment_id,
        "deployment_name": slot.deployment_name,
        "kind": slot.kind,
    }


def refresh_slot(conn: Connection, slot: Slot) -> Slot:
    """The slot with its id if its row exists now (call it once the slot's lock is held:
    the id read before may be missing because a writer ahead created the slot)."""
    if slot.id is not None:
        return slot
    values = _slot_values(slot)
    found = conn.scalar(select(s_.c.id).where(*(s_.c[k] == v for k, v in values.items())))
    return replace(slot, id=int(found)) if found is not None else slot


def ensure_slot(conn: Connection, slot: Slot, now: dt.datetime) -> Slot:
    """The slot with its id, its row created on first use (under the slot's lock)."""
    slot = refresh_slot(conn, slot)
    if slot.id is not None:
        return slot
    found = conn.execute(
        insert(s_).values(created_at=now, **_slot_values(slot)).returning(s_.c.id)
    ).scalar()
    assert found is not None
    return replace(slot, id=int(found))


def heartbeat_by_names(
    conn: Connection,
    org_id: uuid.UUID,
    *,
    environment: str,
    logical_environment: str,
    deployment_name: str,
    kind: str,
    digest: str,
    seen: dt.datetime,
    now: dt.datetime,
    observed: bool = False,
    confirm_token: uuid.UUID | None = None,
) -> RecordRow | None:
    """Heartbeat the slot's deployed record if it is `digest`; None otherwise.

    `observed`: `seen` is a time the reporter gave, and a report older than what
    the record knows matches nothing (the caller tells "older" from "other digest").
    `confirm_token`: a token verified earlier; nothing matches if it is no longer live.
    """
    row = conn.execute(
        _HEARTBEATS[observed, confirm_token is not None],
        {
            "token": confirm_token,
            "org": org_id,
            "env": environment,
            "lenv": logical_environment,
            "name": deployment_name,
            "kind_": kind,
            "digest": digest,
            "seen": seen,
            "now": now,
        },
    ).first()
    if row is None:
        return None
    return RecordRow(
        **row._mapping, environment=environment, logical_environment=logical_environment
    )


def active_in_slot(conn: Connection, slot: Slot, stale_after: int | None) -> RecordRow | None:
    if slot.id is None:
        return None
    row = conn.execute(_ACTIVE_IN_SLOT, {"slot": slot.id}).first()
    return _record_in(row, slot, stale_after) if row else None


def latest_in_slot(conn: Connection, slot: Slot, stale_after: int | None) -> RecordRow | None:
    """The slot's newest record by time: what its latest observation is read from."""
    if slot.id is None:
        return None
    row = conn.execute(_LATEST, {"slot": slot.id}).first()
    return _record_in(row, slot, stale_after) if row else None


def get(conn: Connection, org_id: uuid.UUID, record_id: uuid.UUID) -> RecordRow | None:
    row = conn.execute(view().where(r.c.org_id == org_id, r.c.id == record_id)).first()
    return record_of(row) if row else None


def by_id_prefix(
    conn: Connection, org_id: uuid.UUID, low: uuid.UUID, high: uuid.UUID
) -> list[RecordRow]:
    """Records whose id lies in [low, high] (an id prefix as a range), at most a few."""
    query = view().where(r.c.org_id == org_id, r.c.id >= low, r.c.id <= high).limit(6)
    return [record_of(row) for row in conn.execute(query)]


@dataclass(frozen=True)
class NewRecord:
    """What a new record says besides its slot."""

    digest: str
    artifact_name: str | None
    artifact_version: str | None
    recorded_by: str | None
    scope: str | None = None
    reported_ci: dict[str, Any] | None = None
    promotion_skipped: str | None = None
    policy: dict[str, Any] | None = None


def insert_record(
    conn: Connection,
    slot: Slot,
    new: NewRecord,
    *,
    record_id: uuid.UUID,
    at: dt.datetime,
    now: dt.datetime,
    stale_after: int | None,
    previous: tuple[uuid.UUID, str] | None = None,
) -> RecordRow:
    """A new `deployed` record created at `at` (the report's time), stored at `now`.

    `previous`: the logical environment (id, name) before the slot's in the promotion
    order; the record says it skipped it unless the digest ran there before `at`
    (decided by the INSERT itself; `new.promotion_skipped` is then not used).
    """
    assert slot.id is not None
    values: dict[str, Any] = {
        "id": record_id,
        "org_id": slot.org_id,
        "slot_id": slot.id,
        "environment_id": slot.environment_id,
        "logical_environment_id": slot.logical_environment_id,
        "deployment_name": slot.deployment_name,
        "kind": slot.kind,
        "artifact_digest": new.digest,
        "artifact_name": new.artifact_name,
        "artifact_version": new.artifact_version,
        "status": DEPLOYED,
        "created_at": at,
        "updated_at": now,
        "last_seen_at": at,
        "recorded_by": new.recorded_by,
        "scope": new.scope,
        "reported_ci": new.reported_ci,
        "policy": new.policy,
    }
    if previous is None:
        values["promotion_skipped"] = new.promotion_skipped
        row = conn.execute(_INSERT, values).one()
    else:
        values["previous_id"], values["previous_name"] = previous
        values.update(ran_org=slot.org_id, ran_digest=new.digest, ran_before=at)
        row = conn.execute(_INSERT_PROMOTED, values).one()
    return _record_in(row, slot, stale_after)


def end(
    conn: Connection,
    slot: Slot,
    seq: int,
    *,
    reason: EndedReason,
    at: dt.datetime,
    now: dt.datetime,
    stale_after: int | None,
    superseded_by: uuid.UUID | None = None,
) -> RecordRow:
    """End the record at `at` (never before it was last seen)."""
    status = SUPERSEDED if reason is EndedReason.SUPERSEDED else DECOMMISSIONED
    row = conn.execute(
        _END,
        {
            "seq_": seq,
            "status_": status,
            "reason_": reason.value,
            "at": at,
            "now": now,
            "successor": superseded_by,
        },
    ).one()
    return _record_in(row, slot, stale_after)


def set_scope(conn: Connection, seq: int, scope: str | None) -> None:
    conn.execute(update(r).where(r.c.seq == seq).values(scope=scope))


# Lists --------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    org_id: uuid.UUID
    environment_ids: list[uuid.UUID] | None = None
    logical_environment_ids: list[uuid.UUID] | None = None
    deployment_name: str | None = None
    kind: str | None = None
    digest: str | None = None
    history: bool = False
    at: dt.datetime | None = None  # only what was deployed at this instant
    skipped_promotion: bool = False
    stale_at: dt.datetime | None = None  # only deployed records stale at this instant


Cursor = tuple[dt.datetime, int]


def list_page(
    conn: Connection,
    filters: Filters,
    *,
    before: Cursor | None,
    limit: int,
    extra: list[ColumnElement[bool]] | None = None,
) -> list[RecordRow]:
    """Newest first by (created_at, seq); `before` is the keyset cursor."""
    conditions: list[ColumnElement[bool]] = [r.c.org_id == filters.org_id]
    for column, ids in (
        (r.c.environment_id, filters.environment_ids),
        (r.c.logical_environment_id, filters.logical_environment_ids),
    ):
        if ids is not None:
            conditions.append(column == ids[0] if len(ids) == 1 else column.in_(ids))
    if filters.deployment_name is not None:
        conditions.append(r.c.deployment_name == filters.deployment_name)
    if filters.kind is not None:
        conditions.append(r.c.kind == filters.kind)
    if filters.digest is not None:
        conditions.append(r.c.artifact_digest == filters.digest)
    if filters.skipped_promotion:
        conditions.append(r.c.promotion_skipped.is_not(None))
    if filters.stale_at is not None:
        conditions.append(stale_condition(conn, filters.stale_at))
    if before is not None:
        # (created_at, seq) < before, spelled so that the time is bound through the
        # column's type on SQLite too, and its first term bounds the index range.
        at, seq = before
        conditions += [r.c.created_at <= at, or_(r.c.created_at < at, r.c.seq < seq)]
    conditions += extra or []
    order = (r.c.created_at.desc(), r.c.seq.desc())
    if filters.at is not None:
        return _alive_at(conn, filters.at, conditions, order, limit)
    if not filters.history:
        conditions.append(r.c.status == DEPLOYED)
    query = view().where(*conditions).order_by(*order).limit(limit)
    return [record_of(row) for row in conn.execute(query)]


def _alive_at(
    conn: Connection,
    at: dt.datetime,
    conditions: list[ColumnElement[bool]],
    order: tuple[Any, ...],
    limit: int,
) -> list[RecordRow]:
    """Records `deployed` at `at`: created by then and not ended by then.

    Two parts: what is still deployed (the small active index, newest first from
    `at`), and what was created by `at` but ended after it (`_ended_after`).
    """
    created = r.c.created_at <= bindparam("at", at, type_=UTCDateTime)
    still = view().where(*conditions, created, r.c.status == DEPLOYED).order_by(*order)
    rows = [record_of(row) for row in conn.execute(still.limit(limit))]
    rows += _ended_after(conn, at, conditions, limit)
    rows.sort(key=lambda row: (row.created_at, row.seq), reverse=True)
    return rows[:limit]


# How many of the newest records created by an instant `_ended_after` reads first, per
# record of the page.
_SCAN_PER_ROW = 8


def _ended_after(
    conn: Connection, at: dt.datetime, conditions: list[ColumnElement[bool]], limit: int
) -> list[RecordRow]:
    """The newest `limit` records created by `at` that ended after it, reading at most
    about `_SCAN_PER_ROW * limit` records and what changed since `at`, never a whole history.

    A plain `ORDER BY created_at DESC LIMIT n` with `ended_at > at` as a filter walks
    back from `at` until it has `n` of them: all the history before `at` when fewer
    than `n` ended since, the usual case for a recent instant ("last Tuesday"). So:
    first the newest records created by `at`, a bounded number of them: if enough of
    those ended after `at` they are the answer (a busy history: what ran then has
    mostly been replaced since). Otherwise every record created by `at` that ended
    after it, read by whichever index range is smaller — what ended since `at`, or
    what was created before it — and sorted (materialized, so that no LIMIT tempts
    the planner back into the walk).
    """
    created = r.c.created_at <= bindparam("at", at, type_=UTCDateTime)
    ended = r.c.ended_at > bindparam("at2", at, type_=UTCDateTime)
    newest = (
        view()
        .where(*conditions, created)
        .order_by(r.c.created_at.desc(), r.c.seq.desc())
        .limit(_SCAN_PER_ROW * limit)
        .subquery("newest")
    )
    first = (
        select(newest)
        .where(newest.c.ended_at > bindparam("at2", at, type_=UTCDateTime))
        .order_by(newest.c.created_at.desc(), newest.c.seq.desc())
        .limit(limit)
    )
    rows = [record_of(row) for row in conn.execute(first)]
    if len(rows) == limit:
        return rows
    every = view().where(*conditions, created, ended).cte("ended_after").prefix_with("MATERIALIZED")
    query = select(every).order_by(every.c.created_at.desc(), every.c.seq.desc()).limit(limit)
    return [record_of(row) for row in conn.execute(query)]


def stale_condition(conn: Connection, now: dt.datetime) -> ColumnElement[bool]:
    """SPEC §7's stale rule in SQL, over records joined with their environment: deployed,
    and not seen for longer than the environment's stale-after (the one rule: lists,
    metrics and the `deployment.stale` check use it; `services.records.is_stale` is the
    same rule for a record in hand)."""
    at = bindparam("stale_now", now, type_=UTCDateTime)
    if conn.dialect.name == "postgresql":
        unseen: Any = func.extract("epoch", at - r.c.last_seen_at)
    else:
        # SQLite stores fixed-width ISO text: julianday() reads it (its `Z` included).
        unseen = (func.julianday(at) - func.julianday(r.c.last_seen_at)) * 86400.0
    return and_(
        r.c.status == DEPLOYED,
        environments.c.stale_after_seconds.is_not(None),
        cast(unseen, Float) > environments.c.stale_after_seconds,
    )


def has_active(conn: Connection, org_id: uuid.UUID, *, column: str, value: uuid.UUID) -> bool:
    condition = and_(r.c.org_id == org_id, r.c[column] == value, r.c.status == DEPLOYED)
    return bool(conn.scalar(select(exists().where(condition))))


def active_in_scope_space(
    conn: Connection,
    org_id: uuid.UUID,
    environment_id: uuid.UUID,
    logical_environment_id: uuid.UUID,
) -> list[RecordRow]:
    """Every deployed record of one environment and logical environment (a sync's world)."""
    query = view().where(
        r.c.org_id == org_id,
        r.c.environment_id == environment_id,
        r.c.logical_environment_id == logical_environment_id,
        r.c.status == DEPLOYED,
    )
    return [record_of(row) for row in conn.execute(query)]


def digests_with_prefix(conn: Connection, org_id: uuid.UUID, prefix: str) -> list[str]:
    """Distinct artifact digests of the org's records starting with `prefix` (a few at most).

    The range makes it an index scan; LIKE keeps it exact whatever the collation.
    """
    query = (
        select(r.c.artifact_digest)
        .where(
            r.c.org_id == org_id,
            r.c.artifact_digest >= prefix,
            r.c.artifact_digest < prefix + "g",
            r.c.artifact_digest.like(prefix + "%"),
        )
        .distinct()
        .limit(6)
    )
    return list(conn.scalars(query))


# The snapshot sync (SPEC §7): set-based, a handful of statements for any number of
# workloads. The caller holds the (environment, logical environment) lock exclusively.

_CHUNK = 500


def _chunks(values: list[Any], size: int = _CHUNK) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


@dataclass(frozen=True, slots=True)
class ActiveRow:
    """What a sync needs of a deployed record to decide about it."""

    seq: int
    deployment_name: str
    kind: str
    artifact_digest: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    scope: str | None

    @property
    def latest_observation(self) -> dt.datetime:
        return max(self.created_at, self.last_seen_at)


_ACTIVE_OF_SPACE = select(
    r.c.seq,
    r.c.deployment_name,
    r.c.kind,
    r.c.artifact_digest,
    r.c.created_at,
    r.c.last_seen_at,
    r.c.scope,
).where(
    r.c.org_id == bindparam("org"),
    r.c.environment_id == bindparam("env_id"),
    r.c.logical_environment_id == bindparam("lenv_id"),
    r.c.status == DEPLOYED,
)


def lock_active(
    conn: Connection,
    org_id: uuid.UUID,
    environment_id: uuid.UUID,
    logical_environment_id: uuid.UUID,
) -> list[ActiveRow]:
    """Every deployed record of one (environment, logical environment), row-locked on
    PostgreSQL so that no lock-free heartbeat moves one while a sync decides about it."""
    query = _ACTIVE_OF_SPACE
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    params = {"org": org_id, "env_id": environment_id, "lenv_id": logical_environment_id}
    return [ActiveRow(*row) for row in conn.execute(query, params)]


def by_seqs(conn: Connection, seqs: list[int]) -> list[RecordRow]:
    """Records by their seq, in that order (what a sync changed, as stored now)."""
    found: dict[int, RecordRow] = {}
    for chunk in _chunks(seqs):
        for row in conn.execute(view().where(r.c.seq.in_(chunk))):
            found[row.seq] = record_of(row)
    return [found[seq] for seq in seqs]


def slots_of(
    conn: Connection,
    org_id: uuid.UUID,
    environment_id: uuid.UUID,
    logical_environment_id: uuid.UUID,
) -> dict[tuple[str, str], int]:
    """(deployment name, kind) → slot id, for every slot of the space."""
    query = select(s_.c.id, s_.c.deployment_name, s_.c.kind).where(
        s_.c.org_id == org_id,
        s_.c.environment_id == environment_id,
        s_.c.logical_environment_id == logical_environment_id,
    )
    return {(row.deployment_name, row.kind): int(row.id) for row in conn.execute(query)}


def latest_ends(conn: Connection, slot_ids: list[int]) -> dict[int, dt.datetime]:
    """The latest `ended_at` of each slot (slots with no active record: their latest news)."""
    found: dict[int, dt.datetime] = {}
    for chunk in _chunks(slot_ids):
        query = (
            select(r.c.slot_id, func.max(r.c.ended_at).label("ended_at"))
            .where(r.c.slot_id.in_(chunk))
            .group_by(r.c.slot_id)
        )
        for row in conn.execute(query):
            if row.ended_at is not None:
                # max() over the type-decorated column comes back raw on SQLite.
                found[int(row.slot_id)] = _as_time(row.ended_at)
    return found


def _as_time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def create_slots(
    conn: Connection,
    org_id: uuid.UUID,
    environment_id: uuid.UUID,
    logical_environment_id: uuid.UUID,
    keys: list[tuple[str, str]],
    now: dt.datetime,
) -> dict[tuple[str, str], int]:
    if not keys:
        return {}
    conn.execute(
        insert(s_),
        [
            {
                "org_id": org_id,
                "environment_id": environment_id,
                "logical_environment_id": logical_environment_id,
                "deployment_name": name,
                "kind": kind,
                "created_at": now,
            }
            for name, kind in keys
        ],
    )
    wanted = set(keys)
    return {
        key: slot_id
        for key, slot_id in slots_of(conn, org_id, environment_id, logical_environment_id).items()
        if key in wanted
    }


def heartbeat_many(
    conn: Connection, seqs: list[int], *, at: dt.datetime, now: dt.datetime, scope: str
) -> None:
    """Seen at `at` (callers pass only records last seen no later), now owned by `scope`."""
    for chunk in _chunks(seqs):
        conn.execute(
            update(r)
            .where(r.c.seq.in_(chunk))
            .values(last_seen_at=at, updated_at=now, heartbeats=r.c.heartbeats + 1, scope=scope)
        )


def claim_many(conn: Connection, seqs: list[int], scope: str) -> None:
    """Listed by a snapshot whose time they are already newer than: only the owner moves."""
    for chunk in _chunks(seqs):
        conn.execute(update(r).where(r.c.seq.in_(chunk)).values(scope=scope))


@dataclass(frozen=True)
class Ending:
    seq: int
    at: dt.datetime
    successor: uuid.UUID | None = None


def end_many(
    conn: Connection, endings: list[Ending], *, reason: EndedReason, now: dt.datetime
) -> None:
    if not endings:
        return
    status = SUPERSEDED if reason is EndedReason.SUPERSEDED else DECOMMISSIONED
    statement = (
        update(r)
        .where(r.c.seq == bindparam("seq_"))
        .values(
            status=status,
            ended_reason=reason.value,
            ended_at=bindparam("at_", type_=UTCDateTime),
            updated_at=now,
            superseded_by=bindparam("successor"),
        )
    )
    conn.execute(
        statement, [{"seq_": e.seq, "at_": e.at, "successor": e.successor} for e in endings]
    )


def insert_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert new `deployed` records (values as `insert_record` builds them)."""
    if rows:
        conn.execute(insert(r), rows)


def ran_in_many(
    conn: Connection,
    org_id: uuid.UUID,
    logical_environment_id: uuid.UUID,
    digests: list[str],
    before: dt.datetime,
) -> set[str]:
    """Which of `digests` were deployed in that logical environment before `before`."""
    found: set[str] = set()
    for chunk in _chunks(sorted(set(digests))):
        query = (
            select(r.c.artifact_digest)
            .where(
                r.c.org_id == org_id,
                r.c.logical_environment_id == logical_environment_id,
                r.c.artifact_digest.in_(chunk),
                r.c.created_at < before,
            )
            .distinct()
        )
        found.update(conn.scalars(query))
    return found
