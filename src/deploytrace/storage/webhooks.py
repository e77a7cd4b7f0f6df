"""Webhooks and their subscriptions.

`webhook_subscriptions` holds one row per (webhook, pattern) in SQL LIKE form: the
outbox triggers (see `storage.outbox`) match event types against it, so only a live
webhook's subscriptions exist (removing a webhook deletes them).
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
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    delete,
    insert,
    select,
    update,
)

from deploytrace.storage.base import UTCDateTime, metadata

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("events", JSON, nullable=False),  # the patterns as given, e.g. ["deployment.*"]
    Column("secret_sealed", Text, nullable=False),  # see deploytrace.events.secrets
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(63), nullable=False),
    Column("removed_at", UTCDateTime),
    Index("ix_webhooks_org_id_created_at", "org_id", "created_at"),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("webhook_id", Uuid, ForeignKey("webhooks.id"), nullable=False),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("pattern", String(160), nullable=False),  # SQL LIKE, escape character '\'
    PrimaryKeyConstraint("webhook_id", "pattern"),
    Index("ix_webhook_subscriptions_org_id", "org_id"),
)


@dataclass(frozen=True)
class Webhook:
    id: uuid.UUID
    org_id: uuid.UUID
    url: str
    events: list[str]
    secret_sealed: str
    created_at: dt.datetime
    created_by: str
    removed_at: dt.datetime | None


def _webhook(row: Any) -> Webhook:
    m = row._mapping
    return Webhook(
        m["id"],
        m["org_id"],
        m["url"],
        list(m["events"]),
        m["secret_sealed"],
        m["created_at"],
        m["created_by"],
        m["removed_at"],
    )


def insert_webhook(conn: Connection, hook: Webhook, like_patterns: list[str]) -> None:
    conn.execute(insert(webhooks).values(**hook.__dict__))
    conn.execute(
        insert(webhook_subscriptions),
        [{"webhook_id": hook.id, "org_id": hook.org_id, "pattern": p} for p in like_patterns],
    )


def get(conn: Connection, org_id: uuid.UUID, webhook_id: uuid.UUID) -> Webhook | None:
    row = conn.execute(
        select(webhooks).where(webhooks.c.org_id == org_id, webhooks.c.id == webhook_id)
    ).first()
    return _webhook(row) if row else None


def live(conn: Connection, org_id: uuid.UUID) -> list[Webhook]:
    rows = conn.execute(
        select(webhooks)
        .where(webhooks.c.org_id == org_id, webhooks.c.removed_at.is_(None))
        .order_by(webhooks.c.created_at, webhooks.c.id)
    )
    return [_webhook(r) for r in rows]


def remove(conn: Connection, webhook_id: uuid.UUID, now: dt.datetime) -> None:
    """Mark removed and drop its subscriptions: no new event is queued for it."""
    conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(removed_at=now))
    s = webhook_subscriptions
    conn.execute(delete(s).where(s.c.webhook_id == webhook_id))
