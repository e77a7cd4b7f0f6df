"""The tamper-evident audit log: who changed what, when.

Every change appends an entry inside the transaction that makes the change,
so an entry exists exactly when the change does. Entry n stores
hash_n = sha256(hash_{n-1} ":" n ":" sha256(canonical JSON of its content));
verification recomputes the chain and compares its end with the org's stored
head, so an entry edited, deleted or reordered behind the API's back is found.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from deploytrace.services import pagination, validation
from deploytrace.services.context import Action, Actor
from deploytrace.storage import audit as store
from deploytrace.storage.base import utcnow
from deploytrace.storage.db import Database

Scalar = str | int | bool | None


def entry_digest(
    org_id: uuid.UUID,
    created_at: dt.datetime,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any],
) -> str:
    """sha256 of an entry's content, canonical JSON; the chain links these digests."""
    fields = {
        "org": str(org_id),
        "time": created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor,
        "action": action,
        "target": target,
        "details": details,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Change:
    """What an audit entry says: action, target and the request's essentials."""

    action: str
    target: str
    details: dict[str, Scalar]


def append(
    conn: Connection,
    org_id: uuid.UUID,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Scalar] | None = None,
) -> None:
    """Append one entry to the org's chain, in the caller's transaction (call it last)."""
    append_many(conn, org_id, actor, [Change(action, target, dict(details or {}))])


def append_many(conn: Connection, org_id: uuid.UUID, actor: str, changes: list[Change]) -> None:
    """Append entries in order (call it last in the transaction: the organization's
    head is locked from here to COMMIT, the one point where its audited writes queue)."""
    now = utcnow()
    store.append(
        conn,
        org_id,
        [
            store.Pending(
                created_at=now,
                actor=actor,
                action=c.action,
                target=c.target,
                details=dict(c.details),
                digest=entry_digest(org_id, now, actor, c.action, c.target, dict(c.details)),
            )
            for c in changes
        ],
    )


def list_entries(
    db: Database,
    actor: Actor,
    *,
    since: dt.datetime | None = None,
    action: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> pagination.Page[store.Entry]:
    actor.require(Action.READ)
    size = pagination.limit(limit)
    before = pagination.decode(cursor, int)
    if since is not None:
        since = validation.instant(since, "since")
    with db.read() as conn:
        rows = store.page(
            conn, actor.org_id, since=since, action=action, before_position=before, limit=size + 1
        )
    return pagination.page(rows, size, lambda e: e.position)


@dataclass(frozen=True)
class Verdict:
    intact: bool
    entries: int
    head: str
    first_broken: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def verify(db: Database, actor: Actor) -> Verdict:
    """Recompute the org's chain from the first entry and compare it with the stored head."""
    actor.require(Action.READ)
    with db.read() as conn:
        head_position, head_hash = store.get_head(conn, actor.org_id)
        expected_prev = store.GENESIS
        count = 0
        for entry in store.in_order(conn, actor.org_id):
            count += 1
            if entry.position != count:
                return Verdict(False, count, head_hash, count, f"entry {count} is missing")
            if entry.prev_hash != expected_prev:
                return Verdict(
                    False, count, head_hash, count, "does not follow the entry before it"
                )
            digest = entry_digest(
                actor.org_id,
                entry.created_at,
                entry.actor,
                entry.action,
                entry.target,
                entry.details,
            )
            if store.link(entry.prev_hash, entry.position, digest) != entry.hash:
                return Verdict(False, count, head_hash, count, "its content was changed")
            expected_prev = entry.hash
    if count != head_position or expected_prev != head_hash:
        broken = min(count, head_position) + 1
        return Verdict(False, count, head_hash, broken, "entries are missing from the end")
    return Verdict(True, count, head_hash)
