"""Staleness (SPEC §7): a `deployed` record not seen for longer than its environment's
`stale_after_seconds`, and which records were already announced as stale.

`outbox.stale_notices` holds one row per record announced (`deployment.stale` is sent once
per record, when it first goes stale), so a record that heartbeats again and goes
stale later is not announced twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    case,
    func,
    insert,
    select,
)

from deploytrace.storage.deployments import DEPLOYED, deployment_records, stale_condition
from deploytrace.storage.environments import environments, logical_environments
from deploytrace.storage.outbox import stale_notices

r = deployment_records
env = environments
lenv = logical_environments


def is_stale(conn: Connection, now: dt.datetime) -> ColumnElement[bool]:
    """The stale rule over `deployment_records` joined with `environments`."""
    return stale_condition(conn, now)


@dataclass(frozen=True)
class StaleRecord:
    id: uuid.UUID
    org_id: uuid.UUID
    environment: str
    logical_environment: str
    deployment_name: str
    kind: str
    digest: str
    artifact_name: str | None
    artifact_version: str | None
    last_seen_at: dt.datetime
    stale_after_seconds: int

    @property
    def slot(self) -> str:
        return f"{self.environment}/{self.logical_environment}/{self.deployment_name}/{self.kind}"


def newly_stale(conn: Connection, now: dt.datetime, limit: int) -> list[StaleRecord]:
    """Stale records of every org not announced yet, oldest sighting first."""
    n = stale_notices
    query = (
        select(
            r.c.id,
            r.c.org_id,
            env.c.name,
            lenv.c.name,
            r.c.deployment_name,
            r.c.kind,
            r.c.artifact_digest,
            r.c.artifact_name,
            r.c.artifact_version,
            r.c.last_seen_at,
            env.c.stale_after_seconds,
        )
        .join(env, env.c.id == r.c.environment_id)
        .join(lenv, lenv.c.id == r.c.logical_environment_id)
        .outerjoin(n, n.c.record_id == r.c.id)
        .where(is_stale(conn, now), n.c.record_id.is_(None))
        .order_by(r.c.last_seen_at)
        .limit(limit)
    )
    return [StaleRecord(*row) for row in conn.execute(query)]


def mark_noticed(conn: Connection, records: list[StaleRecord], now: dt.datetime) -> None:
    conn.execute(
        insert(stale_notices),
        [{"record_id": s.id, "org_id": s.org_id, "noticed_at": now} for s in records],
    )


@dataclass(frozen=True)
class ScopeCounts:
    environment: str
    logical_environment: str
    active: int
    stale: int


def counts(conn: Connection, org_id: uuid.UUID, now: dt.datetime) -> list[ScopeCounts]:
    """Active and stale records per environment and logical environment of one org."""
    stale = func.sum(case((is_stale(conn, now), 1), else_=0))
    query = (
        select(env.c.name, lenv.c.name, func.count(), stale)
        .select_from(r)
        .join(env, env.c.id == r.c.environment_id)
        .join(lenv, lenv.c.id == r.c.logical_environment_id)
        .where(r.c.org_id == org_id, r.c.status == DEPLOYED)
        .group_by(env.c.name, lenv.c.name)
        .order_by(env.c.name, lenv.c.name)
    )
    return [ScopeCounts(e, le, int(n), int(s or 0)) for e, le, n, s in conn.execute(query)]
