"""Events that other systems hear about (SPEC §11), as the services write them.

Audited changes need nothing from their authors: the audit entry written in the
change's transaction is the event, which the server's workers copy into the outbox
(see `storage.outbox`). This module is for the events no audit entry stands for:

- `emit` / `emit_many`: for code that notices something inside its own transaction
  (the sync service: `workload.unattested`);
- `announce_stale`: the server's periodic check that sends `deployment.stale` once per
  record, when a `deployed` record first goes longer than its environment's
  `stale_after_seconds` without being seen.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from deploytrace.storage import outbox, staleness
from deploytrace.storage.base import utcnow
from deploytrace.storage.db import Database, advisory_key

log = logging.getLogger("deploytrace.events")

NewEvent = outbox.NewEvent
STALE = "deployment.stale"
UNATTESTED = "workload.unattested"
_STALE_LOCK = advisory_key("deploytrace", "stale-check")


def emit(
    conn: Connection,
    org_id: uuid.UUID,
    type: str,
    subject: str,
    data: dict[str, Any],
    ordering_key: str | None = None,
) -> None:
    """Queue one event in the caller's transaction: it is delivered exactly when that commits.

    `type` is the action (`workload.unattested`; webhooks receive it as CloudEvents type
    `dev.deploytrace.<type>`), `subject` what it is about (`deployment/<id>`), `data` a
    JSON object, `ordering_key` the queue it is delivered in order within (a deployment
    slot `ENV/LENV/NAME/KIND`; default: the subject). Nothing is written when no webhook
    of the org subscribes to `type`.
    """
    emit_many(conn, org_id, [NewEvent(type, subject, data, ordering_key or subject)])


def emit_many(conn: Connection, org_id: uuid.UUID, events: Sequence[NewEvent]) -> None:
    """`emit` for many events of one org in one statement, delivered in list order per key."""
    outbox.emit(conn, org_id, events, utcnow())


def stale_event(record: staleness.StaleRecord) -> NewEvent:
    """The `deployment.stale` event of a record that just went stale."""
    return NewEvent(
        STALE,
        f"deployment/{record.id}",
        {
            "id": str(record.id),
            "slot": record.slot,
            "digest": record.digest,
            "artifact_name": record.artifact_name,
            "artifact_version": record.artifact_version,
            "last_seen_at": record.last_seen_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "stale_after_seconds": record.stale_after_seconds,
        },
        record.slot,
    )


def announce_stale(db: Database, *, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Announce records that went stale since the last check; the number announced.

    Runs in one replica at a time (a transaction-scoped advisory lock that the others
    do not wait for); the notice and its event commit together, so a record is
    announced once even across crashes.
    """
    total = 0
    while True:
        with db.write() as conn:
            if (
                db.is_postgres
                and not conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _STALE_LOCK}
                ).scalar()
            ):
                return total
            at = now or utcnow()
            found = staleness.newly_stale(conn, at, batch)
            if not found:
                return total
            staleness.mark_noticed(conn, found, at)
            by_org: dict[uuid.UUID, list[NewEvent]] = defaultdict(list)
            for record in found:
                by_org[record.org_id].append(stale_event(record))
            for org_id, new in by_org.items():
                outbox.emit(conn, org_id, new, at)
        total += len(found)
        if len(found) < batch:
            return total
