"""The outbox: events, their deliveries to webhooks, and the attempts.

Where events come from:
- Audited changes: the audit entry, written in the transaction that makes the change,
  is the durable record of the event. `fan_out` copies an organization's new entries
  into `events`, in audit order, from a cursor (`outbox_cursors`) that moves in the same
  transaction as the copies. Audit positions are dense per organization (the hash
  chain), so the copy stops at a position not visible yet and never skips one. The
  record path writes nothing more than before (a trigger here cost each audited
  statement more than a round trip, even in organizations without webhooks).
- `emit`: events no audit entry stands for (`deployment.stale`, `workload.unattested`),
  in the caller's transaction.
Either way an event is kept only when a live webhook of the org subscribes to its type,
and a trigger on `events` fans it out to one `webhook_deliveries` row per such webhook.

Delivering: `claim` leases due deliveries whose (webhook, ordering key) has no
earlier undelivered one, so a slot's events go out in order and a later event
waits for the earlier; `FOR UPDATE SKIP LOCKED` on PostgreSQL lets replicas claim
side by side, and the lease (`leased_until`, `lease_token`) keeps one attempt from
being made twice at once. `finish` records the attempt and settles the delivery
only if the lease is still the claimer's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import exists

from deploytrace.storage.audit import audit_entries
from deploytrace.storage.base import BigSerial, UTCDateTime, metadata
from deploytrace.storage.tenancy import organizations
from deploytrace.storage.webhooks import webhook_subscriptions, webhooks

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
CANCELLED = "cancelled"
_PENDING = "state = 'pending'"

events = Table(
    "events",
    metadata,
    Column("seq", BigSerial, primary_key=True, autoincrement=True),
    # A random UUID: the webhook-id receivers deduplicate by. Not indexed: events are
    # found by seq, and an index on random values would cost every write a random page.
    Column("id", Uuid, nullable=False),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("ordering_key", Text, nullable=False),
    Column("actor", String(63)),  # who made the change; none for events of the system
    Column("data", JSON, nullable=False),  # an audited event: the audit entry's details
    Column("created_at", UTCDateTime, nullable=False),
    # Set for an event meant for one webhook only (`webhook test`): no fan-out.
    Column("webhook_id", Uuid, ForeignKey("webhooks.id")),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigSerial, primary_key=True, autoincrement=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("webhook_id", Uuid, ForeignKey("webhooks.id"), nullable=False),
    Column("event_seq", BigInteger, ForeignKey("events.seq"), nullable=False),
    Column("ordering_key", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("first_attempt_at", UTCDateTime),
    Column("leased_until", UTCDateTime),
    Column("lease_token", String(32)),
    Column("finished_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(
        f"state IN ('{PENDING}', '{DELIVERED}', '{FAILED}', '{CANCELLED}')", name="state"
    ),
    # What is due, oldest first: small, since only pending rows are in it.
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=_PENDING,
        sqlite_where=_PENDING,
    ),
    # The queue of one (webhook, ordering key): is an earlier event still undelivered?
    Index(
        "ix_webhook_deliveries_queue",
        "webhook_id",
        "ordering_key",
        "event_seq",
        postgresql_where=_PENDING,
        sqlite_where=_PENDING,
    ),
    # Given-up deliveries (metrics, `webhook deliveries`): few, and never touched by inserts.
    Index(
        "ix_webhook_deliveries_failed",
        "webhook_id",
        postgresql_where="state = 'failed'",
        sqlite_where="state = 'failed'",
    ),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigSerial, primary_key=True, autoincrement=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("webhook_id", Uuid, ForeignKey("webhooks.id"), nullable=False),
    Column("delivery_id", BigInteger, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("delivered", Boolean, nullable=False),
    Index("ix_webhook_attempts_webhook_id_id", "webhook_id", "id"),
)

# How far each organization's audit entries were copied into `events`.
outbox_cursors = Table(
    "outbox_cursors",
    metadata,
    Column("org_id", Uuid, ForeignKey("organizations.id"), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# Records announced as stale (`deployment.stale` goes out once per record).
stale_notices = Table(
    "stale_notices",
    metadata,
    Column("record_id", Uuid, ForeignKey("deployment_records.id"), primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("noticed_at", UTCDateTime, nullable=False),
    Index("ix_stale_notices_org_id_noticed_at", "org_id", "noticed_at"),
)

d = webhook_deliveries
e = events


@dataclass(frozen=True)
class NewEvent:
    type: str
    subject: str
    data: dict[str, Any]
    ordering_key: str
    actor: str | None = None
    created_at: dt.datetime | None = None  # default: now
    id: uuid.UUID | None = None  # default: a random one


_EMIT = insert(e).from_select(
    ["id", "org_id", "type", "subject", "ordering_key", "actor", "data", "created_at"],
    select(
        bindparam("b_id", type_=Uuid),
        bindparam("b_org", type_=Uuid),
        bindparam("b_type", type_=String),
        bindparam("b_subject", type_=Text),
        bindparam("b_key", type_=Text),
        bindparam("b_actor", type_=String),
        bindparam("b_data", type_=JSON),
        bindparam("b_at", type_=UTCDateTime),
    ).where(
        exists().where(
            webhook_subscriptions.c.org_id == bindparam("b_org", type_=Uuid),
            bindparam("b_type", type_=String).like(webhook_subscriptions.c.pattern, escape="\\"),
        )
    ),
)


def emit(conn: Connection, org_id: uuid.UUID, new: Sequence[NewEvent], now: dt.datetime) -> None:
    """Queue events in the caller's transaction; those no webhook subscribes to are dropped.

    One statement (sent in one go for many events); the events trigger fans them out.
    """
    if not new:
        return
    conn.execute(
        _EMIT,
        [
            {
                "b_id": ev.id or uuid.uuid4(),
                "b_org": org_id,
                "b_type": ev.type,
                "b_subject": ev.subject,
                "b_key": ev.ordering_key,
                "b_actor": ev.actor,
                "b_data": ev.data,
                "b_at": ev.created_at or now,
            }
            for ev in new
        ],
    )


# Event ids of audited changes are derived from the entry: the same entry, the same id.
_AUDIT_EVENTS = uuid.UUID("5f0b8a3e-61c4-4d1e-9a57-0c8f4b2de7a1")


def start_cursor(conn: Connection, org_id: uuid.UUID) -> None:
    """Copy the org's audit entries from the next one on (call before a webhook is added).

    An org whose webhooks were all removed skips what was audited meanwhile.
    """
    head = select(func.coalesce(func.max(audit_entries.c.position), 0)).where(
        audit_entries.c.org_id == org_id
    )
    position = conn.execute(head).scalar_one()
    c = outbox_cursors
    current = conn.execute(select(c.c.position).where(c.c.org_id == org_id)).first()
    if current is None:
        # Two first webhooks of an org made at once: one cursor, the same start.
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(
            dialect_insert(c).values(org_id=org_id, position=position).on_conflict_do_nothing()
        )
        return
    live = select(webhooks.c.id).where(webhooks.c.org_id == org_id, webhooks.c.removed_at.is_(None))
    if conn.execute(live.limit(1)).first() is None:
        conn.execute(update(c).where(c.c.org_id == org_id).values(position=position))


def fan_out(conn: Connection, *, orgs: int = 50, batch: int = 500) -> int:
    """Copy new audit entries into events for orgs with live webhooks; how many were read.

    Each org's cursor row is locked (skipping those another replica holds) and moved in
    this transaction, with the copies.
    """
    c = outbox_cursors
    a = audit_entries
    live = exists().where(webhooks.c.org_id == c.c.org_id, webhooks.c.removed_at.is_(None))
    following = exists().where(a.c.org_id == c.c.org_id, a.c.position == c.c.position + 1)
    due = select(c.c.org_id, c.c.position).where(live, following).order_by(c.c.org_id).limit(orgs)
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(of=c, skip_locked=True)
    read = 0
    for org_id, start in conn.execute(due).all():
        position = start
        entries = conn.execute(
            select(a.c.position, a.c.created_at, a.c.actor, a.c.action, a.c.target, a.c.details)
            .where(a.c.org_id == org_id, a.c.position > start)
            .order_by(a.c.position)
            .limit(batch)
        ).all()
        new = []
        for entry in entries:
            if entry.position != position + 1:
                break  # not visible yet: the rest waits for it
            position = entry.position
            details = dict(entry.details or {})
            slot = details.get("slot")
            new.append(
                NewEvent(
                    type=entry.action,
                    subject=entry.target,
                    data=details,
                    ordering_key=slot if isinstance(slot, str) else entry.target,
                    actor=entry.actor,
                    created_at=entry.created_at,
                    id=uuid.uuid5(_AUDIT_EVENTS, f"{org_id}:{position}"),
                )
            )
        if not new:
            continue
        emit(conn, org_id, new, dt.datetime.now(dt.UTC))
        conn.execute(update(c).where(c.c.org_id == org_id).values(position=position))
        read += len(new)
    return read


def emit_directed(
    conn: Connection,
    org_id: uuid.UUID,
    webhook_id: uuid.UUID,
    new: NewEvent,
    now: dt.datetime,
    *,
    lease_until: dt.datetime,
    lease_token: str,
) -> int:
    """An event for one webhook only, its delivery already leased to the caller."""
    seq = conn.execute(
        insert(e)
        .values(
            id=uuid.uuid4(),
            org_id=org_id,
            type=new.type,
            subject=new.subject,
            ordering_key=new.ordering_key,
            data=new.data,
            created_at=now,
            webhook_id=webhook_id,
        )
        .returning(e.c.seq)
    ).scalar_one()
    delivery: int = conn.execute(
        insert(d)
        .values(
            org_id=org_id,
            webhook_id=webhook_id,
            event_seq=seq,
            ordering_key=new.ordering_key,
            state=PENDING,
            attempts=1,
            next_attempt_at=now,
            first_attempt_at=now,
            leased_until=lease_until,
            lease_token=lease_token,
            created_at=now,
        )
        .returning(d.c.id)
    ).scalar_one()
    return delivery


@dataclass(frozen=True)
class Claimed:
    """A leased delivery with everything its attempt needs."""

    delivery_id: int
    attempt: int
    first_attempt_at: dt.datetime
    lease_token: str
    org_id: uuid.UUID
    org: str
    webhook_id: uuid.UUID
    url: str
    secret_sealed: str
    event_id: uuid.UUID
    type: str
    subject: str
    ordering_key: str
    actor: str | None
    data: dict[str, Any]
    created_at: dt.datetime


def database_now(conn: Connection, fallback: dt.datetime) -> dt.datetime:
    """PostgreSQL's clock: leases are compared by replicas whose own clocks may differ.
    (SQLite is one machine's file: its callers' clock.)"""
    if conn.dialect.name != "postgresql":
        return fallback
    now: dt.datetime = conn.execute(select(func.now())).scalar_one()
    return now.astimezone(dt.UTC)


def claim(
    conn: Connection,
    *,
    now: dt.datetime,
    limit: int,
    lease_until: dt.datetime,
    lease_token: str,
) -> list[Claimed]:
    """Lease up to `limit` due deliveries, each the first undelivered of its queue.

    `now` and `lease_until` must come from one clock for every claimer (`database_now`).
    """
    p = d.alias("earlier")
    earlier = exists().where(
        p.c.webhook_id == d.c.webhook_id,
        p.c.ordering_key == d.c.ordering_key,
        p.c.event_seq < d.c.event_seq,
        p.c.state == PENDING,
    )
    due = (
        select(d.c.id)
        .where(
            d.c.state == PENDING,
            d.c.next_attempt_at <= now,
            or_(d.c.leased_until.is_(None), d.c.leased_until < now),
            ~earlier,
        )
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    leased = conn.execute(
        update(d)
        .where(d.c.id.in_(due.scalar_subquery()))
        .values(
            attempts=d.c.attempts + 1,
            leased_until=lease_until,
            lease_token=lease_token,
            first_attempt_at=func.coalesce(d.c.first_attempt_at, literal(now, UTCDateTime)),
        )
        .returning(d.c.id)
    ).scalars()
    return load(conn, list(leased))


def load(conn: Connection, delivery_ids: list[int]) -> list[Claimed]:
    if not delivery_ids:
        return []
    w = webhooks
    o = organizations
    rows = conn.execute(
        select(
            d.c.id.label("delivery_id"),
            d.c.attempts.label("attempt"),
            d.c.first_attempt_at,
            d.c.lease_token,
            d.c.org_id,
            o.c.name.label("org"),
            d.c.webhook_id,
            w.c.url,
            w.c.secret_sealed,
            e.c.id.label("event_id"),
            e.c.type,
            e.c.subject,
            e.c.ordering_key,
            e.c.actor,
            e.c.data,
            e.c.created_at,
        )
        .join(e, e.c.seq == d.c.event_seq)
        .join(w, w.c.id == d.c.webhook_id)
        .join(o, o.c.id == d.c.org_id)
        .where(d.c.id.in_(delivery_ids))
        .order_by(d.c.id)
    )
    return [Claimed(**row._mapping) for row in rows]


@dataclass(frozen=True)
class Result:
    """How one attempt went, and what becomes of its delivery."""

    delivery_id: int
    lease_token: str
    org_id: uuid.UUID
    webhook_id: uuid.UUID
    ordering_key: str
    attempt: int
    at: dt.datetime
    status_code: int | None
    error: str | None
    delivered: bool
    # The next try, or None: settled (delivered, or given up as failed).
    next_attempt_at: dt.datetime | None


_SETTLE = (
    update(d)
    .where(d.c.id == bindparam("b_id"), d.c.lease_token == bindparam("b_token"))
    .values(
        state=bindparam("b_state"),
        next_attempt_at=bindparam("b_next", type_=UTCDateTime),
        finished_at=bindparam("b_finished", type_=UTCDateTime),
        leased_until=None,
        lease_token=None,
    )
)


_queue = and_(
    d.c.webhook_id == bindparam("b_webhook"),
    d.c.ordering_key == bindparam("b_key"),
    d.c.state == PENDING,
)
# A queue whose first event failed waits until that event's next attempt: its later
# events are not due before it, so claiming never wades through blocked rows.
_HOLD_QUEUE = (
    update(d)
    .where(_queue, d.c.next_attempt_at < bindparam("b_next", type_=UTCDateTime))
    .values(next_attempt_at=bindparam("b_next", type_=UTCDateTime))
)
_RELEASE_QUEUE = (
    update(d)
    .where(_queue, d.c.next_attempt_at > bindparam("b_now", type_=UTCDateTime))
    .values(next_attempt_at=bindparam("b_now", type_=UTCDateTime))
)


def finish(conn: Connection, results: Sequence[Result], now: dt.datetime) -> None:
    """Record the attempts; settle or reschedule the deliveries still leased to us.

    A delivery whose lease was lost (it expired and another worker took it over)
    keeps the newer claimer's state; its attempt is still recorded, since it was made.
    """
    if not results:
        return
    # One lock order for every settling transaction.
    results = sorted(results, key=lambda r: (str(r.webhook_id), r.ordering_key, r.delivery_id))
    conn.execute(
        insert(webhook_attempts),
        [
            {
                "org_id": r.org_id,
                "webhook_id": r.webhook_id,
                "delivery_id": r.delivery_id,
                "attempt": r.attempt,
                "at": r.at,
                "status_code": r.status_code,
                "error": r.error,
                "delivered": r.delivered,
            }
            for r in results
        ],
    )
    conn.execute(
        _SETTLE,
        [
            {
                "b_id": r.delivery_id,
                "b_token": r.lease_token,
                "b_state": DELIVERED
                if r.delivered
                else (PENDING if r.next_attempt_at is not None else FAILED),
                "b_next": r.next_attempt_at or now,
                "b_finished": None if r.next_attempt_at is not None and not r.delivered else now,
            }
            for r in results
        ],
    )
    retried = [r for r in results if not r.delivered and r.next_attempt_at is not None]
    if retried:
        conn.execute(
            _HOLD_QUEUE,
            [
                {"b_webhook": r.webhook_id, "b_key": r.ordering_key, "b_next": r.next_attempt_at}
                for r in retried
            ],
        )
    # Only a queue whose first event had failed before can have been held.
    settled = [r for r in results if r.attempt > 1 and (r.delivered or r.next_attempt_at is None)]
    if settled:
        conn.execute(
            _RELEASE_QUEUE,
            [{"b_webhook": r.webhook_id, "b_key": r.ordering_key, "b_now": now} for r in settled],
        )


def cancel_pending(conn: Connection, webhook_id: uuid.UUID, now: dt.datetime) -> None:
    conn.execute(
        update(d)
        .where(d.c.webhook_id == webhook_id, d.c.state == PENDING)
        .values(state=CANCELLED, finished_at=now, leased_until=None, lease_token=None)
    )


@dataclass(frozen=True)
class AttemptRow:
    id: int
    event_id: uuid.UUID
    type: str
    subject: str
    attempt: int
    at: dt.datetime
    status_code: int | None
    error: str | None
    delivered: bool
    state: str


def attempts_page(
    conn: Connection, webhook_id: uuid.UUID, *, before: int | None, limit: int
) -> list[AttemptRow]:
    """Newest first."""
    a = webhook_attempts
    query = (
        select(
            a.c.id,
            e.c.id.label("event_id"),
            e.c.type,
            e.c.subject,
            a.c.attempt,
            a.c.at,
            a.c.status_code,
            a.c.error,
            a.c.delivered,
            d.c.state,
        )
        .join(d, d.c.id == a.c.delivery_id)
        .join(e, e.c.seq == d.c.event_seq)
        .where(a.c.webhook_id == webhook_id)
    )
    if before is not None:
        query = query.where(a.c.id < before)
    rows = conn.execute(query.order_by(a.c.id.desc()).limit(limit))
    return [AttemptRow(**row._mapping) for row in rows]


def backlog(conn: Connection, org_id: uuid.UUID) -> dict[str, int]:
    """Deliveries of the org's webhooks by state, pending and failed only."""
    of_org = select(webhooks.c.id).where(webhooks.c.org_id == org_id)
    rows = conn.execute(
        select(d.c.state, func.count())
        .where(d.c.webhook_id.in_(of_org.scalar_subquery()), d.c.state.in_((PENDING, FAILED)))
        .group_by(d.c.state)
    )
    counts = {PENDING: 0, FAILED: 0}
    counts.update({state: int(n) for state, n in rows})
    return counts
