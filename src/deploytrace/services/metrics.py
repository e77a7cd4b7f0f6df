"""What `GET /metrics` reports about the caller's organization, read at scrape time."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from deploytrace.services.context import Action, Actor
from deploytrace.storage import outbox, staleness
from deploytrace.storage import snapshots as snapshot_store
from deploytrace.storage.base import utcnow
from deploytrace.storage.db import Database


@dataclass(frozen=True)
class ScopeCount:
    environment: str
    logical_environment: str
    count: int


@dataclass(frozen=True)
class OrgMetrics:
    active: list[ScopeCount]
    stale: list[ScopeCount]
    unattested: list[ScopeCount]
    webhook_pending: int
    webhook_failed: int


def unattested_workloads(conn: Connection, actor: Actor) -> list[ScopeCount]:
    """Workloads running without evidence (kept by snapshot syncs), per environment and
    logical environment."""
    return [
        ScopeCount(env, lenv, count)
        for env, lenv, count in snapshot_store.count_unattested(conn, actor.org_id)
    ]


def org_metrics(db: Database, actor: Actor) -> OrgMetrics:
    """Records active and stale per scope, unattested workloads, webhook backlog."""
    actor.require(Action.READ)
    with db.read() as conn:
        scopes = staleness.counts(conn, actor.org_id, utcnow())
        unattested = unattested_workloads(conn, actor)
        backlog = outbox.backlog(conn, actor.org_id)
    return OrgMetrics(
        active=[ScopeCount(s.environment, s.logical_environment, s.active) for s in scopes],
        stale=[ScopeCount(s.environment, s.logical_environment, s.stale) for s in scopes],
        unattested=unattested,
        webhook_pending=backlog[outbox.PENDING],
        webhook_failed=backlog[outbox.FAILED],
    )
