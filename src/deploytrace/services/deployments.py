"""Deployment records: the state machine of SPEC §3, listing and describing.

`record` runs in one write transaction that first takes the slot's lock, so
concurrent writers of one slot queue behind each other and each sees the state
the previous one left; the partial unique index on the active slot is the
database's backstop should anything bypass that lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection

from deploytrace.errors import Conflict, InvalidInput, NotFound
from deploytrace.services import audit, evidence, pagination, validation
from deploytrace.services.context import Action, Actor
from deploytrace.storage import deployments as store
from deploytrace.storage import environments as env_store
from deploytrace.storage import evidence as evidence_store
from deploytrace.storage.base import new_id, utcnow
from deploytrace.storage.db import Database

CREATED = "created"
SUPERSEDED_PREVIOUS = "superseded_previous"
HEARTBEAT = "heartbeat"
DECOMMISSIONED = "decommissioned"
UNCHANGED = "unchanged"


@dataclass(frozen=True)
class RecordRequest:
    environment: str
    logical_environment: str
    deployment_name: str
    kind: str
    digest: str
    artifact_name: str | None = None
    artifact_version: str | None = None
    status: str = "deployed"

    def validated(self) -> RecordRequest:
        return RecordRequest(
            environment=validation.dns_label(self.environment, "environment name"),
            logical_environment=validation.dns_label(
                self.logical_environment, "logical environment name"
            ),
            deployment_name=validation.dns_subdomain(self.deployment_name, "deployment name"),
            kind=validation.kind(self.kind),
            digest=validation.digest(self.digest),
            artifact_name=validation.text(
                self.artifact_name, "artifact name", validation.MAX_ARTIFACT_NAME
            ),
            artifact_version=validation.text(
                self.artifact_version, "artifact version", validation.MAX_ARTIFACT_VERSION
            ),
            status=validation.input_status(self.status),
        )


@dataclass(frozen=True)
class RecordResult:
    record: store.RecordRow
    action: str

    @property
    def created(self) -> bool:
        return self.action in (CREATED, SUPERSEDED_PREVIOUS)


def _resolve_env(
    conn: Connection, table: object, org_id: uuid.UUID, name: str, noun: str
) -> uuid.UUID:
    row = env_store.get(conn, table, org_id, name)  # type: ignore[arg-type]
    if row is None:
        raise NotFound(f"{noun} {name!r} not found: create it first")
    return row.id


def record(db: Database, actor: Actor, request: RecordRequest) -> RecordResult:
    actor.require(Action.WRITE)
    req = request.validated()
    with db.write() as conn:
        slot = store.Slot(
            org_id=actor.org_id,
            environment_id=_resolve_env(
                conn, env_store.environments, actor.org_id, req.environment, "environment"
            ),
            logical_environment_id=_resolve_env(
                conn,
                env_store.logical_environments,
                actor.org_id,
                req.logical_environment,
                "logical environment",
            ),
            deployment_name=req.deployment_name,
            kind=req.kind,
        )
        db.lock_key(conn, "slot", *slot.__dict__.values())
        active = store.active_in_slot(conn, slot)
        if req.status == "deployed":
            action, record_id = _deploy(conn, actor, slot, req, active)
        else:
            action, record_id = _decommission(conn, slot, req, active)
        row = store.get(conn, actor.org_id, record_id)
        assert row is not None
        _audit(conn, actor, action, row, active)
    return RecordResult(row, action)


def _audit(
    conn: Connection,
    actor: Actor,
    action: str,
    row: store.RecordRow,
    previous: store.RecordRow | None,
) -> None:
    """Transitions are audited; heartbeats only count (`heartbeats` on the record)."""
    if action in (HEARTBEAT, UNCHANGED):
        return
    slot = f"{row.environment}/{row.logical_environment}/{row.deployment_name}/{row.kind}"
    if action == SUPERSEDED_PREVIOUS and previous is not None:
        audit.append(
            conn,
            actor.org_id,
            actor.name,
            "deployment.superseded",
            f"deployment/{previous.id}",
            {"slot": slot, "digest": previous.artifact_digest, "superseded_by": str(row.id)},
        )
    verb = "deployment.decommissioned" if action == DECOMMISSIONED else "deployment.created"
    audit.append(
        conn,
        actor.org_id,
        actor.name,
        verb,
        f"deployment/{row.id}",
        {
            "slot": slot,
            "digest": row.artifact_digest,
            "artifact_name": row.artifact_name,
            "artifact_version": row.artifact_version,
        },
    )


def _deploy(
    conn: Connection,
    actor: Actor,
    slot: store.Slot,
    req: RecordRequest,
    active: store.RecordRow | None,
) -> tuple[str, uuid.UUID]:
    now = utcnow()
    if active is not None and active.artifact_digest == req.digest:
        # Idempotent re-record: a heartbeat. The artifact was checked when the
        # record was created and records never change artifact, so no gate here.
        store.heartbeat(conn, active.seq, now)
        return HEARTBEAT, active.id
    evidence.require_attested(conn, actor.org_id, req.digest, req.kind)
    new = new_id()
    if active is not None:
        store.end(conn, active.seq, status=store.SUPERSEDED, now=now, superseded_by=new)
    store.insert_record(
        conn,
        slot,
        record_id=new,
        digest=req.digest,
        artifact_name=req.artifact_name,
        artifact_version=req.artifact_version,
        now=now,
        recorded_by=actor.name,
    )
    return (SUPERSEDED_PREVIOUS if active is not None else CREATED), new


def _decommission(
    conn: Connection, slot: store.Slot, req: RecordRequest, active: store.RecordRow | None
) -> tuple[str, uuid.UUID]:
    if active is not None:
        if active.artifact_digest != req.digest:
            raise Conflict(
                f"cannot decommission {req.digest}: the slot runs {active.artifact_digest}"
            )
        store.end(conn, active.seq, status=store.DECOMMISSIONED, now=utcnow())
        return DECOMMISSIONED, active.id
    latest = store.latest_in_slot(conn, slot)
    if (
        latest is not None
        and latest.status == store.DECOMMISSIONED
        and latest.artifact_digest == req.digest
    ):
        return UNCHANGED, latest.id
    raise NotFound(
        f"nothing to decommission: {req.digest} is not deployed in "
        f"{req.environment}/{req.logical_environment}/{req.deployment_name} ({req.kind})"
    )


@dataclass(frozen=True)
class ListQuery:
    environment: str | None = None
    logical_environment: str | None = None
    deployment_name: str | None = None
    kind: str | None = None
    digest: str | None = None
    history: bool = False
    project: str | None = None
    project_version: str | None = None
    limit: int | None = None
    cursor: str | None = None


@dataclass(frozen=True)
class Page:
    items: list[store.RecordRow]
    next_cursor: str | None


def _ids(
    conn: Connection, table: object, org_id: uuid.UUID, name: str | None, noun: str
) -> list[uuid.UUID] | None:
    if name is None:
        return None
    ids = env_store.ids_by_name(conn, table, org_id, name)  # type: ignore[arg-type]
    if not ids:
        raise NotFound(f"{noun} {name!r} not found")
    return ids


def list_records(db: Database, actor: Actor, query: ListQuery) -> Page:
    actor.require(Action.READ)
    size = pagination.limit(query.limit)
    before = pagination.decode(query.cursor, int)
    with db.read() as conn:
        filters = store.Filters(
            org_id=actor.org_id,
            environment_ids=_ids(
                conn, env_store.environments, actor.org_id, query.environment, "environment"
            ),
            logical_environment_ids=_ids(
                conn,
                env_store.logical_environments,
                actor.org_id,
                query.logical_environment,
                "logical environment",
            ),
            deployment_name=query.deployment_name,
            kind=validation.kind(query.kind) if query.kind else None,
            digest=validation.digest(query.digest) if query.digest else None,
            history=query.history,
        )
        extra = []
        if query.project_version is not None and query.project is None:
            raise InvalidInput("a project version filter needs a project")
        if query.project is not None:
            condition = evidence_store.project_filter(
                conn,
                actor.org_id,
                query.project,
                query.project_version,
                store.deployment_records.c.artifact_digest,
            )
            if condition is None:
                what = f"project {query.project!r}"
                if query.project_version is not None:
                    what += f" version {query.project_version!r}"
                raise NotFound(f"{what} not found")
            extra.append(condition)
        rows = store.list_page(conn, filters, before_seq=before, limit=size + 1, extra=extra)
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, pagination.encode(rows[-1].seq) if more and rows else None)


@dataclass(frozen=True)
class Described:
    record: store.RecordRow
    attestations: list[evidence_store.RefRow]
    attestations_next_cursor: str | None
    summary: evidence.Summary


def describe(
    db: Database,
    actor: Actor,
    record_id: str,
    *,
    limit: int | None = None,
    attestations_cursor: str | None = None,
) -> Described:
    """The record and the evidence behind its artifact."""
    actor.require(Action.READ)
    size = pagination.limit(limit)
    try:
        parsed = uuid.UUID(record_id)
    except ValueError:
        raise NotFound(f"deployment record {record_id!r} not found") from None
    with db.read() as conn:
        row = store.get(conn, actor.org_id, parsed)
        if row is None:
            raise NotFound(f"deployment record {record_id!r} not found")
        refs, refs_next = evidence.evidence_page(
            conn, actor.org_id, row.artifact_digest, limit=size, cursor=attestations_cursor
        )
        summary = evidence.summary(conn, actor.org_id, row.artifact_digest)
    return Described(row, refs, refs_next, summary)
