"""THE BASELINE: the state change of one `deployment record`, as a minimal psycopg transaction.

record_rate.py divides the API's records/s by the rate of this code against the same
PostgreSQL server (fsync on), in the same run. It is the least any client must do to
keep SPEC §3's slot rule under concurrency, and nothing more:

    BEGIN
    SELECT seq, artifact_digest FROM deployment_records
      WHERE slot_id = $1 AND status = 'deployed' FOR UPDATE     -- the slot's active row
    heartbeat:  UPDATE deployment_records SET last_seen_at, updated_at, heartbeats + 1
    supersede:  UPDATE deployment_records SET status = 'superseded', ended_at, ... (the old)
                INSERT INTO deployment_records (...)                               (the new)
    COMMIT

The slot's id (and its environment ids) are looked up once per slot before the
measurement: no names are resolved, no token checked, no evidence looked at, no audit
entry written, no policy asked. Statements are prepared by psycopg after their fifth
execution, as the product's are. Up to 37336b0 the baseline was the product's own
statements replayed (see RESULTS.md); since round 2 the baseline is this fixed
yardstick, so that every statement the product adds is visible as a cost.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from psycopg import Connection

KIND = "CONTAINER_IMAGE"

ACTIVE = (
    "SELECT seq, artifact_digest FROM deployment_records "
    "WHERE slot_id = %s AND status = 'deployed' FOR UPDATE"
)
HEARTBEAT = (
    "UPDATE deployment_records SET last_seen_at = %s, updated_at = %s, "
    "heartbeats = heartbeats + 1 WHERE seq = %s"
)
END = (
    "UPDATE deployment_records SET status = 'superseded', ended_reason = 'superseded', "
    "ended_at = %s, updated_at = %s, superseded_by = %s WHERE seq = %s"
)
INSERT = (
    "INSERT INTO deployment_records (id, org_id, slot_id, environment_id, "
    "logical_environment_id, deployment_name, kind, artifact_digest, status, created_at, "
    "updated_at, last_seen_at, recorded_by) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'deployed', %s, %s, %s, %s)"
)


@dataclass(frozen=True)
class SlotRef:
    """What the baseline knows of a slot before it starts: its ids."""

    slot_id: int
    org_id: uuid.UUID
    environment_id: uuid.UUID
    logical_environment_id: uuid.UUID
    deployment_name: str


def statements(mode: str) -> list[str]:
    """What PostgreSQL receives for one record of `mode` ("supersede" or "heartbeat")."""
    if mode == "heartbeat":
        return ["BEGIN", ACTIVE, HEARTBEAT, "COMMIT"]
    return ["BEGIN", ACTIVE, END, INSERT, "COMMIT"]


def record(conn: Connection[Any], slot: SlotRef, digest: str, actor: str = "bench") -> str:
    """One record in one transaction: "heartbeat" when the slot runs `digest`, else
    "superseded_previous" or "created". The connection must not be in autocommit."""
    now = dt.datetime.now(dt.UTC)
    try:
        active = conn.execute(ACTIVE, (slot.slot_id,)).fetchone()
        if active is not None and active[1] == digest:
            conn.execute(HEARTBEAT, (now, now, active[0]))
            action = "heartbeat"
        else:
            new = uuid.uuid4()
            if active is not None:
                conn.execute(END, (now, now, new, active[0]))
            conn.execute(
                INSERT,
                (
                    new,
                    slot.org_id,
                    slot.slot_id,
                    slot.environment_id,
                    slot.logical_environment_id,
                    slot.deployment_name,
                    KIND,
                    digest,
                    now,
                    now,
                    now,
                    actor,
                ),
            )
            action = "superseded_previous" if active is not None else "created"
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return action
