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
import hmac
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


def append_many(
    conn: Connection,
    org_id: uuid.UUID,
    actor: str,
    changes: list[Change],
    *,
    commit: bool = False,
) -> None:
    """Append entries in order (call it last in the transaction: the organization's
    head is locked from here to COMMIT, the one point where its audited writes queue).
    `commit`: COMMIT the transaction with the append, in the same round trip (nothing
    may follow it in the transaction)."""
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
        commit=commit,
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
    """The org's audit entries, newest first; `since` (aware) and `action` filter them."""
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
    # The first position recomputed: 1 for the whole chain, else one past the
    # checkpoint this verification started from.
    checked_from: int = 1

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def checkpoint_mac(key: str, org_id: uuid.UUID, position: int, entry_hash: str) -> str:
    """The HMAC a checkpoint carries when DEPLOYTRACE_AUDIT_KEY is set (None without a key)."""
    message = f"deploytrace audit checkpoint:{org_id}:{position}:{entry_hash}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def _trusted(checkpoint: store.Checkpoint, org_id: uuid.UUID, key: str | None) -> bool:
    """Signed by our key; with no key configured, only unsigned ones count."""
    if key is None:
        return checkpoint.mac is None
    expected = checkpoint_mac(key, org_id, checkpoint.position, checkpoint.hash)
    return checkpoint.mac is not None and hmac.compare_digest(checkpoint.mac, expected)


def verify(db: Database, actor: Actor, *, full: bool = False, key: str | None = None) -> Verdict:
    """Recompute the org's chain and compare its end with the stored head.

    It starts from the newest checkpoint `key` vouches for (a previous verify's
    result) unless `full`, and on success records a checkpoint at the head, so
    a daily verify recomputes only the day's entries. Every trusted checkpoint
    it passes must match: a chain rewritten behind one is broken even if it is
    consistent in itself. `key` is the server's DEPLOYTRACE_AUDIT_KEY: without
    it checkpoints are unsigned.
    """
    actor.require(Action.READ)
    org_id = actor.org_id
    with db.read() as conn:
        head_position, head_hash = store.get_head(conn, org_id)
        trusted = {
            c.position: c for c in store.checkpoints(conn, org_id) if _trusted(c, org_id, key)
        }
        start = None if full or not trusted else trusted[max(trusted)]
        verdict = _recompute(conn, org_id, head_position, head_hash, start, trusted)
    if verdict.intact and head_position > (start.position if start else 0):
        mark = store.Checkpoint(
            head_position,
            head_hash,
            utcnow(),
            checkpoint_mac(key, org_id, head_position, head_hash) if key is not None else None,
        )
        with db.write() as conn:
            store.save_checkpoint(conn, org_id, mark)
    return verdict


def _recompute(
    conn: Connection,
    org_id: uuid.UUID,
    head_position: int,
    head_hash: str,
    start: store.Checkpoint | None,
    trusted: dict[int, store.Checkpoint],
) -> Verdict:
    count, expected_prev = 0, store.GENESIS
    if start is not None:
        checked_from = start.position + 1
        if start.position > head_position:
            return Verdict(
                False,
                head_position,
                head_hash,
                head_position + 1,
                f"entries are missing from the end (checkpoint saw {start.position})",
                checked_from,
            )
        anchor = store.entry_at(conn, org_id, start.position)
        if anchor is None or anchor.hash != start.hash:
            return Verdict(
                False, head_position, head_hash, start.position, _rewritten(start), checked_from
            )
        count, expected_prev = start.position, start.hash
    checked_from = count + 1
    # Up to the head read above: entries appended since belong to a later verify.
    for entry in store.in_order(conn, org_id, after=count or None, upto=head_position):
        count += 1
        if entry.position != count:
            return Verdict(
                False, count, head_hash, count, f"entry {count} is missing", checked_from
            )
        if entry.prev_hash != expected_prev:
            return Verdict(
                False, count, head_hash, count, "does not follow the entry before it", checked_from
            )
        digest = entry_digest(
            org_id, entry.created_at, entry.actor, entry.action, entry.target, entry.details
        )
        if store.link(entry.prev_hash, entry.position, digest) != entry.hash:
            return Verdict(False, count, head_hash, count, "its content was changed", checked_from)
        mark = trusted.get(count)
        if mark is not None and mark.hash != entry.hash:
            return Verdict(False, count, head_hash, count, _rewritten(mark), checked_from)
        expected_prev = entry.hash
    if count != head_position or expected_prev != head_hash:
        broken = min(count, head_position) + 1
        return Verdict(
            False, count, head_hash, broken, "entries are missing from the end", checked_from
        )
    # An entry past the head was not appended through the API (an append moves
    # the head in its own transaction). Last entry first, then the head: an
    # append committing between the two reads cannot look like one.
    last = store.last_position(conn, org_id)
    if last > store.get_head(conn, org_id)[0]:
        return Verdict(
            False, count, head_hash, count + 1, "entries were added past the head", checked_from
        )
    return Verdict(True, count, head_hash, checked_from=checked_from)


def _rewritten(mark: store.Checkpoint) -> str:
    return (
        "the chain up to here differs from the checkpoint a verify took at "
        f"{mark.created_at:%Y-%m-%dT%H:%M:%SZ}: entries up to it were changed and the "
        "hashes after them recomputed"
    )
