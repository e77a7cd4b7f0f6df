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
from deploytrace.services import artifacts, audit, pagination, validation
from deploytrace.services.context import Action, Actor
from deploytrace.storage import artifacts as artifact_store
from deploytrace.storage import deployments as store
from deploytrace.storage import environments as env_store
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
    previous: store.RecordRow | None = None  # the record this one superseded

    @property
    def created(self) -> bool:
        return self.action in (CREATED, SUPERSEDED_PREVIOUS)


def record(db: Database, actor: Actor, request: RecordRequest) -> RecordResult:
    actor.require(Action.WRITE)
    req = request.validated()
    if req.status == "deployed":
        # The common case, a pipeline re-recording what runs, is one statement.
        with db.single(write=True) as conn:
            beat = _heartbeat(conn, actor, req)
        if beat is not None:
            return beat
    with db.write() as conn:
        slot = _slot(conn, actor, req)
        db.lock_key(conn, "slot", *slot.key)
        active = store.active_in_slot(conn, slot)
        if req.status == "deployed":
            result = _deploy(conn, actor, slot, req, active)
        else:
            result = _decommission(conn, slot, req, active)
        _audit(conn, actor, result)
    return result


def _heartbeat(conn: Connection, actor: Actor, req: RecordRequest) -> RecordResult | None:
    row = store.heartbeat_by_names(
        conn,
        actor.org_id,
        environment=req.environment,
        logical_environment=req.logical_environment,
        deployment_name=req.deployment_name,
        kind=req.kind,
        digest=req.digest,
        now=utcnow(),
    )
    return RecordResult(row, HEARTBEAT) if row is not None else None


def _slot(conn: Connection, actor: Actor, req: RecordRequest) -> store.Slot:
    env_id, lenv_id = store.slot_ids(conn, actor.org_id, req.environment, req.logical_environment)
    if env_id is None:
        raise NotFound(f"environment {req.environment!r} not found: create it first")
    if lenv_id is None:
        raise NotFound(
            f"logical environment {req.logical_environment!r} not found: create it first"
        )
    return store.Slot(
        org_id=actor.org_id,
        environment_id=env_id,
        logical_environment_id=lenv_id,
        deployment_name=req.deployment_name,
        kind=req.kind,
        environment=req.environment,
        logical_environment=req.logical_environment,
    )


def _audit(conn: Connection, actor: Actor, result: RecordResult) -> None:
    """Transitions are audited; heartbeats only count (`heartbeats` on the record)."""
    if result.action in (HEARTBEAT, UNCHANGED):
        return
    row = result.record
    slot = f"{row.environment}/{row.logical_environment}/{row.deployment_name}/{row.kind}"
    entries: list[audit.Change] = []
    previous = result.previous
    if previous is not None:
        entries.append(
            audit.Change(
                "deployment.superseded",
                f"deployment/{previous.id}",
                {"slot": slot, "digest": previous.artifact_digest, "superseded_by": str(row.id)},
            )
        )
    verb = "deployment.decommissioned" if result.action == DECOMMISSIONED else "deployment.created"
    entries.append(
        audit.Change(
            verb,
            f"deployment/{row.id}",
            {
                "slot": slot,
                "digest": row.artifact_digest,
                "artifact_name": row.artifact_name,
                "artifact_version": row.artifact_version,
            },
        )
    )
    audit.append_many(conn, actor.org_id, actor.name, entries)


def _deploy(
    conn: Connection,
    actor: Actor,
    slot: store.Slot,
    req: RecordRequest,
    active: store.RecordRow | None,
) -> RecordResult:
    now = utcnow()
    if active is not None and active.artifact_digest == req.digest:
        # Created by a concurrent writer after the lock-free check: now a heartbeat.
        beat = _heartbeat(conn, actor, req)
        assert beat is not None
        return beat
    # Records never change artifact, so the evidence is checked once, here, when
    # a record is created; its heartbeats need no new check.
    artifacts.require_attested(conn, actor.org_id, req.digest, req.kind)
    new = new_id()
    previous = None
    if active is not None:
        previous = store.end(
            conn, slot, active.seq, status=store.SUPERSEDED, now=now, superseded_by=new
        )
        # The successor starts exactly when its predecessor ended (which may be
        # later than `now`: see storage.deployments._not_before).
        assert previous.ended_at is not None
        now = previous.ended_at
    row = store.insert_record(
        conn,
        slot,
        record_id=new,
        digest=req.digest,
        artifact_name=req.artifact_name,
        artifact_version=req.artifact_version,
        now=now,
        recorded_by=actor.name,
    )
    return RecordResult(row, SUPERSEDED_PREVIOUS if previous else CREATED, previous)


def _decommission(
    conn: Connection, slot: store.Slot, req: RecordRequest, active: store.RecordRow | None
) -> RecordResult:
    if active is not None:
        if active.artifact_digest != req.digest:
            raise Conflict(
                f"cannot decommission {req.digest}: the slot runs {active.artifact_digest}"
            )
        ended = store.end(conn, slot, active.seq, status=store.DECOMMISSIONED, now=utcnow())
        return RecordResult(ended, DECOMMISSIONED)
    latest = store.latest_in_slot(conn, slot)
    if (
        latest is not None
        and latest.status == store.DECOMMISSIONED
        and latest.artifact_digest == req.digest
    ):
        return RecordResult(latest, UNCHANGED)
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


def _ids(
    conn: Connection, table: object, org_id: uuid.UUID, name: str | None, noun: str
) -> list[uuid.UUID] | None:
    if name is None:
        return None
    ids = env_store.ids_by_name(conn, table, org_id, name)  # type: ignore[arg-type]
    if not ids:
        raise NotFound(f"{noun} {name!r} not found")
    return ids


def list_records(db: Database, actor: Actor, query: ListQuery) -> pagination.Page[store.RecordRow]:
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
            condition = artifact_store.project_filter(
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
    return pagination.page(rows, size, lambda r: r.seq)


@dataclass(frozen=True)
class Described:
    record: store.RecordRow
    attestations: list[artifacts.EvidenceEntry]
    attestations_next_cursor: str | None
    summary: artifacts.Summary


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
        refs, refs_next = artifacts.evidence_page(
            conn, actor.org_id, row.artifact_digest, limit=size, cursor=attestations_cursor
        )
        summary = artifacts.summary(conn, actor.org_id, row.artifact_digest)
    return Described(row, refs, refs_next, summary)
