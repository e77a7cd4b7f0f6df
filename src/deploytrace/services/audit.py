"""The tamper-evident audit log: who changed what, when.

Every change appends an entry inside the transaction that makes the change,
so an entry exists exactly when the change does. Entry n stores
hash_n = sha256(canonical JSON of its fields and hash_{n-1}); verification
recomputes the chain and compares its end with the org's stored head, so an
entry edited, deleted or reordered behind the API's back is found.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from deploytrace.errors import InvalidInput
from deploytrace.services import pagination
from deploytrace.services.context import Action, Actor
from deploytrace.storage import audit as store
from deploytrace.storage.base import utcnow
from deploytrace.storage.db import Database

Scalar = str | int | bool | None


def _canonical(org_id: uuid.UUID, entry: store.Entry) -> bytes:
    fields = {
        "org": str(org_id),
        "position": entry.position,
        "time": entry.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "details": entry.details,
        "prev": entry.prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _hash(org_id: uuid.UUID, entry: store.Entry) -> str:
    return hashlib.sha256(_canonical(org_id, entry)).hexdigest()


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
    """Append entries in order, locking the org's head once (call it last: the lock is
    the one point where an organization's audited writes queue)."""
    position, prev = store.lock_head(conn, org_id)
    now = utcnow()
    entries = []
    for change in changes:
        position += 1
        entry = store.Entry(
            position=position,
            created_at=now,
            actor=actor,
            action=change.action,
            target=change.target,
            details=dict(change.details),
            prev_hash=prev,
            hash="",
        )
        prev = _hash(org_id, entry)
        entries.append(store.Entry(**{**entry.__dict__, "hash": prev}))
    store.append(conn, org_id, entries)


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
    if since is not None and since.tzinfo is None:
        raise InvalidInput("since needs a time zone, e.g. 2026-11-25T10:00:00Z")
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
            if _hash(actor.org_id, entry) != entry.hash:
                return Verdict(False, count, head_hash, count, "its content was changed")
            expected_prev = entry.hash
    if count != head_position or expected_prev != head_hash:
        broken = min(count, head_position) + 1
        return Verdict(False, count, head_hash, broken, "entries are missing from the end")
    return Verdict(True, count, head_hash)
