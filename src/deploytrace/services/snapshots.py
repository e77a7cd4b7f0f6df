"""Inventory snapshots (SPEC §7): a reporter states the complete set of what runs in
its scope, and the records are made to match it in one transaction.

Set-based: whatever the number of workloads, a sync is a few queries to read
the space's state, then one statement (or one batched statement) per kind of
change. It takes the (environment, logical environment) lock exclusively, which
single reports take shared: a sync never interleaves with a report of its space.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from deploytrace.errors import InvalidInput, StaleReport
from deploytrace.services import audit, events, pagination, policies, validation
from deploytrace.services.context import Action, Actor
from deploytrace.services.deployments import created_change, observed_time
from deploytrace.services.records import CiRun, Record, ReportedBy, z
from deploytrace.storage import artifacts as artifact_store
from deploytrace.storage import deployments as store
from deploytrace.storage import environments as env_store
from deploytrace.storage import snapshots as snapshot_store
from deploytrace.storage.base import new_id, utcnow
from deploytrace.storage.db import Database
from deploytrace.vocabulary import EndedReason, Kind, Status

DEFAULT_SCOPE = "default"
MAX_SCOPE = 255
MAX_WORKLOADS = 100_000
NOT_ATTESTED = "not_attested"
NO_REPOSITORY_DIGEST = "no_repository_digest"
REASONS = frozenset({NOT_ATTESTED, NO_REPOSITORY_DIGEST, "invalid_name", "unmappable"})


@dataclass(frozen=True)
class Workload:
    """One workload of a snapshot. `digest` None: the runtime gave no repository digest."""

    deployment_name: str
    kind: str
    digest: str | None
    artifact_name: str | None = None
    artifact_version: str | None = None
    reason: str | None = None  # why it has no digest, as the reporter says

    def validated(self, index: int) -> Workload:
        where = f"deployments[{index}]"
        try:
            digest = validation.digest(self.digest) if self.digest is not None else None
            reason = self.reason
            if digest is None:
                reason = reason or NO_REPOSITORY_DIGEST
                if reason not in REASONS:
                    raise InvalidInput(
                        f"unknown reason {reason!r}: one of {', '.join(sorted(REASONS))}"
                    )
            return Workload(
                deployment_name=validation.dns_subdomain(self.deployment_name, "deployment name"),
                kind=validation.kind(self.kind),
                digest=digest,
                artifact_name=validation.text(
                    self.artifact_name, "artifact name", validation.MAX_ARTIFACT_NAME
                ),
                artifact_version=validation.text(
                    self.artifact_version, "artifact version", validation.MAX_ARTIFACT_VERSION
                ),
                reason=reason if digest is None else None,
            )
        except InvalidInput as error:
            raise InvalidInput(f"{where} ({self.deployment_name!r}): {error.message}") from None


@dataclass(frozen=True)
class SnapshotRequest:
    environment: str
    logical_environment: str
    deployments: list[Workload]
    scope: str | None = None
    observed_at: dt.datetime | None = None
    dry_run: bool = False
    ci: CiRun | None = None


@dataclass(frozen=True)
class Unattested:
    deployment_name: str
    kind: str
    digest: str | None
    artifact_name: str | None
    artifact_version: str | None
    reason: str


@dataclass(frozen=True)
class Refused:
    deployment_name: str
    kind: str
    digest: str
    violations: list[dict[str, Any]]


@dataclass(frozen=True)
class Skipped:
    """A slot left as it was: it knows something newer than the snapshot."""

    deployment_name: str
    kind: str
    digest: str | None
    latest_observation: dt.datetime


@dataclass(frozen=True)
class Snapshot:
    id: uuid.UUID
    environment: str
    logical_environment: str
    scope: str
    observed_at: dt.datetime
    applied_at: dt.datetime
    dry_run: bool
    workloads: int


@dataclass
class SyncResult:
    snapshot: Snapshot
    created: list[Record] = field(default_factory=list)
    superseded: list[Record] = field(default_factory=list)
    heartbeats: int = 0
    decommissioned: list[Record] = field(default_factory=list)
    unattested: list[Unattested] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    stale: list[Skipped] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "workloads": self.snapshot.workloads,
            "created": len(self.created),
            "superseded": len(self.superseded),
            "heartbeats": self.heartbeats,
            "decommissioned": len(self.decommissioned),
            "unattested": len(self.unattested),
            "refused": len(self.refused),
            "stale": len(self.stale),
        }


def scope_name(value: str | None) -> str:
    """A snapshot scope: `default` when not given, else printable text of at most 255 characters."""
    if value is None:
        return DEFAULT_SCOPE
    value = value.strip()
    if not value:
        raise InvalidInput("scope must not be empty")
    checked = validation.text(value, "scope", MAX_SCOPE)
    assert checked is not None
    return checked


def _validated(request: SnapshotRequest, now: dt.datetime) -> SnapshotRequest:
    if len(request.deployments) > MAX_WORKLOADS:
        raise InvalidInput(
            f"a snapshot holds at most {MAX_WORKLOADS} workloads, this one "
            f"{len(request.deployments)}: split it into scopes (--scope, --namespace)"
        )
    workloads = [w.validated(i) for i, w in enumerate(request.deployments)]
    seen: dict[tuple[str, str], int] = {}
    for i, w in enumerate(workloads):
        key = (w.deployment_name, w.kind)
        if key in seen:
            raise InvalidInput(
                f"deployments[{i}]: {w.deployment_name} ({w.kind}) is listed twice "
                f"(also deployments[{seen[key]}]): a snapshot lists each workload once"
            )
        seen[key] = i
    return SnapshotRequest(
        environment=validation.dns_label(request.environment, "environment name"),
        logical_environment=validation.dns_label(
            request.logical_environment, "logical environment name"
        ),
        deployments=workloads,
        scope=scope_name(request.scope),
        observed_at=observed_time(request.observed_at, now),
        dry_run=request.dry_run,
        ci=request.ci.validated() if request.ci else None,
    )


def sync(db: Database, actor: Actor, request: SnapshotRequest) -> SyncResult:
    """Make the scope's records match the snapshot (SPEC §7), in one transaction.

    Raises NotFound (unknown environment or logical environment), StaleReport (a
    snapshot older than the scope's last applied one), InvalidInput. With
    `dry_run` the answer is the same and nothing is kept.
    """
    actor.require(Action.WRITE)
    now = utcnow()
    req = _validated(request, now)
    gate = _Gate(db, actor, req)
    gate.prepare()
    with db.write(dry_run=req.dry_run) as conn:
        return _apply(db, conn, actor, req, now, gate)


class _Gate:
    """The policy verdicts of the workloads a snapshot would create records for.

    Evaluated before the write transaction, from a read of the space's state; a
    workload that state did not predict (a report changed the slot meanwhile) is
    evaluated when it comes up.
    """

    def __init__(self, db: Database, actor: Actor, req: SnapshotRequest) -> None:
        self.db, self.actor, self.req = db, actor, req
        self.attached = False
        self.decisions: dict[tuple[str, str, str], policies.Decision] = {}

    def prepare(self) -> None:
        req = self.req
        self.attached = policies.any_attached(
            self.db, self.actor, req.environment, req.logical_environment
        )
        if not self.attached:
            return
        with self.db.read() as conn:
            space = _space(conn, self.actor, req)
            running = {
                (row.deployment_name, row.kind): row.artifact_digest
                for row in store.lock_active(
                    conn, self.actor.org_id, space.environment_id, space.logical_environment_id
                )
            }
        candidates = [
            w
            for w in req.deployments
            if w.digest is not None and running.get((w.deployment_name, w.kind)) != w.digest
        ]
        self._evaluate(candidates)

    def _evaluate(self, workloads: list[Workload]) -> None:
        targets = [
            policies.Target(
                digest=w.digest or "",
                kind=w.kind,
                environment=self.req.environment,
                logical_environment=self.req.logical_environment,
                deployment_name=w.deployment_name,
                artifact_name=w.artifact_name,
                artifact_version=w.artifact_version,
            )
            for w in workloads
        ]
        decisions = policies.check_many(
            self.db, self.actor, self.req.environment, self.req.logical_environment, targets
        )
        for w, decision in zip(workloads, decisions, strict=True):
            self.decisions[(w.deployment_name, w.kind, w.digest or "")] = decision

    def decide(self, w: Workload) -> policies.Decision:
        if not self.attached:
            return policies.NO_POLICY
        key = (w.deployment_name, w.kind, w.digest or "")
        if key not in self.decisions:
            self._evaluate([w])
        return self.decisions[key]


@dataclass(frozen=True)
class _Space:
    environment_id: uuid.UUID
    logical_environment_id: uuid.UUID
    stale_after: int | None
    position: int | None


def _space(conn: Connection, actor: Actor, req: SnapshotRequest) -> _Space:
    from deploytrace.services.environments import environments, logical_environments

    env = env_store.get(conn, env_store.environments, actor.org_id, req.environment)
    if env is None:
        environments.not_found(conn, actor, req.environment)
    lenv = env_store.get(
        conn, env_store.logical_environments, actor.org_id, req.logical_environment
    )
    if lenv is None:
        logical_environments.not_found(conn, actor, req.logical_environment)
    return _Space(env.id, lenv.id, env.stale_after_seconds, lenv.position)


def _apply(
    db: Database,
    conn: Connection,
    actor: Actor,
    req: SnapshotRequest,
    now: dt.datetime,
    gate: _Gate,
) -> SyncResult:
    org = actor.org_id
    scope = req.scope or DEFAULT_SCOPE
    space = _space(conn, actor, req)
    db.lock_key(conn, "space", org, space.environment_id, space.logical_environment_id)
    # A snapshot without observed_at was observed when it is applied: read the clock
    # after the lock, so that of concurrent syncs the one applied last is the newest, whole.
    now = max(now, utcnow())
    at = req.observed_at or now
    last = snapshot_store.get_scope(
        conn, org, space.environment_id, space.logical_environment_id, scope
    )
    if last is not None and req.observed_at is not None and req.observed_at < last[1]:
        raise StaleReport(
            f"stale snapshot: scope {scope!r} of {req.environment}/{req.logical_environment} "
            f"was last synced with a snapshot observed at {z(last[1])}, later than this "
            f"one's {z(req.observed_at)}; nothing changed"
        )
    result = SyncResult(
        Snapshot(
            id=new_id(),
            environment=req.environment,
            logical_environment=req.logical_environment,
            scope=scope,
            observed_at=at,
            applied_at=now,
            dry_run=req.dry_run,
            workloads=len(req.deployments),
        )
    )
    active = {
        (row.deployment_name, row.kind): row
        for row in store.lock_active(conn, org, space.environment_id, space.logical_environment_id)
    }
    slots = store.slots_of(conn, org, space.environment_id, space.logical_environment_id)
    listed = {(w.deployment_name, w.kind): w for w in req.deployments}
    idle = [slots[k] for k in listed if k in slots and k not in active]
    ends = store.latest_ends(conn, idle)

    def latest(key: tuple[str, str]) -> dt.datetime | None:
        row = active.get(key)
        if row is not None:
            return row.latest_observation
        slot = slots.get(key)
        return ends.get(slot) if slot is not None else None

    attested: dict[str, set[str]] = {}
    for kind in {w.kind for w in req.deployments if w.digest is not None}:
        wanted = [w.digest for w in req.deployments if w.kind == kind and w.digest is not None]
        attested[kind] = artifact_store.attested_among(conn, org, wanted, kind)

    plan = _classify(req, active, latest, attested, _Plan(at=at, now=now, scope=scope), result)
    _police(plan, gate, result)
    _execute(conn, actor, req, space, plan, slots, result)
    fresh = snapshot_store.replace_unattested(
        conn,
        org,
        space.environment_id,
        space.logical_environment_id,
        scope,
        [
            snapshot_store.Workload(
                u.deployment_name, u.kind, u.digest, u.artifact_name, u.artifact_version, u.reason
            )
            for u in result.unattested
        ],
        now,
    )
    snapshot_store.save_scope(
        conn,
        last[0] if last else None,
        {
            "org_id": org,
            "environment_id": space.environment_id,
            "logical_environment_id": space.logical_environment_id,
            "scope": scope,
            "snapshot_id": result.snapshot.id,
            "observed_at": at if last is None else max(at, last[1]),
            "applied_at": now,
            "reported_by": actor.name,
            "summary": result.counts(),
        },
    )
    _audit(conn, actor, req, result, fresh)
    return result


def _unattested(w: Workload, reason: str) -> Unattested:
    return Unattested(
        w.deployment_name, w.kind, w.digest, w.artifact_name, w.artifact_version, reason
    )


@dataclass
class _Plan:
    at: dt.datetime
    now: dt.datetime
    scope: str
    heartbeats: list[store.ActiveRow] = field(default_factory=list)
    claims: list[int] = field(default_factory=list)
    creates: list[tuple[Workload, store.ActiveRow | None]] = field(default_factory=list)
    replaced: list[store.ActiveRow] = field(default_factory=list)
    absent: list[store.ActiveRow] = field(default_factory=list)
    verdicts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def _classify(
    req: SnapshotRequest,
    active: dict[tuple[str, str], store.ActiveRow],
    latest: Callable[[tuple[str, str]], dt.datetime | None],
    attested: dict[str, set[str]],
    plan: _Plan,
    result: SyncResult,
) -> _Plan:
    """Decide what happens to each slot the snapshot lists, and to the scope's others."""
    at, scope = plan.at, plan.scope
    listed = {(w.deployment_name, w.kind): w for w in req.deployments}
    for key, w in listed.items():
        current = active.get(key)
        known = latest(key)
        if w.digest is None:
            result.unattested.append(_unattested(w, w.reason or NO_REPOSITORY_DIGEST))
            continue
        if current is not None and current.artifact_digest == w.digest:
            if known is not None and known > at:
                if req.observed_at is None:
                    plan.claims.append(current.seq)
                else:
                    result.stale.append(Skipped(w.deployment_name, w.kind, w.digest, known))
                continue
            plan.heartbeats.append(current)
            continue
        if known is not None and known > at:
            result.stale.append(Skipped(w.deployment_name, w.kind, w.digest, known))
            continue
        if w.digest not in attested.get(w.kind, set()):
            result.unattested.append(_unattested(w, NOT_ATTESTED))
            if current is not None:
                plan.replaced.append(current)
            continue
        plan.creates.append((w, current))

    for key, row in active.items():
        if key in listed or row.scope != scope:
            continue
        if row.latest_observation > at:
            result.stale.append(
                Skipped(row.deployment_name, row.kind, row.artifact_digest, row.latest_observation)
            )
            continue
        plan.absent.append(row)
    return plan


def _police(plan: _Plan, gate: _Gate, result: SyncResult) -> None:
    """Refuse the creations an enforced policy refuses (their slot's record, if any, is
    replaced: it no longer runs); keep the verdict of the others for their records."""
    allowed: list[tuple[Workload, store.ActiveRow | None]] = []
    for w, current in plan.creates:
        decision = gate.decide(w)
        if decision.enforced:
            assert w.digest is not None
            violations = [
                {"policy": v.policy, "version": v.version, "message": v.message, "mode": v.mode}
                for v in decision.violations
            ]
            result.refused.append(Refused(w.deployment_name, w.kind, w.digest, violations))
            if current is not None:
                plan.replaced.append(current)
            continue
        plan.verdicts[(w.deployment_name, w.kind)] = policies.record_policy(decision)
        allowed.append((w, current))
    plan.creates = allowed


def _end_time(row: store.ActiveRow, at: dt.datetime) -> dt.datetime:
    # Never before it was last seen (a heartbeat that committed before the lock).
    return max(at, row.last_seen_at)


def _execute(
    conn: Connection,
    actor: Actor,
    req: SnapshotRequest,
    space: _Space,
    plan: _Plan,
    slots: dict[tuple[str, str], int],
    result: SyncResult,
) -> None:
    org = actor.org_id
    store.heartbeat_many(
        conn, [r.seq for r in plan.heartbeats], at=plan.at, now=plan.now, scope=plan.scope
    )
    store.claim_many(conn, plan.claims, plan.scope)
    result.heartbeats = len(plan.heartbeats) + len(plan.claims)

    missing = sorted({(w.deployment_name, w.kind) for w, _ in plan.creates} - slots.keys())
    slots.update(
        store.create_slots(
            conn, org, space.environment_id, space.logical_environment_id, missing, plan.now
        )
    )
    skipped = _promotion(conn, org, space.position, [w.digest for w, _ in plan.creates], plan.at)
    ci = req.ci.as_dict() if req.ci else None
    rows: list[dict[str, Any]] = []
    superseded: list[store.Ending] = []
    for w, current in plan.creates:
        assert w.digest is not None
        record_id = new_id()
        start = plan.at
        if current is not None:
            start = _end_time(current, plan.at)
            superseded.append(store.Ending(current.seq, start, record_id))
        values = {
            "id": record_id,
            "org_id": org,
            "slot_id": slots[(w.deployment_name, w.kind)],
            "environment_id": space.environment_id,
            "logical_environment_id": space.logical_environment_id,
            "deployment_name": w.deployment_name,
            "kind": w.kind,
            "artifact_digest": w.digest,
            "artifact_name": w.artifact_name,
            "artifact_version": w.artifact_version,
            "status": Status.DEPLOYED.value,
            "created_at": start,
            "updated_at": plan.now,
            "last_seen_at": start,
            "recorded_by": actor.name,
            "scope": plan.scope,
            "reported_ci": ci,
            "promotion_skipped": skipped.get(w.digest),
            "policy": plan.verdicts.get((w.deployment_name, w.kind)),
        }
        rows.append(values)
        result.created.append(_created(values, req, space))
    store.end_many(conn, superseded, reason=EndedReason.SUPERSEDED, now=plan.now)
    store.insert_many(conn, rows)
    gone: list[int] = []
    for reason, ended in ((EndedReason.REPLACED, plan.replaced), (EndedReason.ABSENT, plan.absent)):
        endings = [store.Ending(row.seq, _end_time(row, plan.at)) for row in ended]
        store.end_many(conn, endings, reason=reason, now=plan.now)
        gone += [e.seq for e in endings]
    # What ended is read back as stored: few rows, and exactly what a describe shows.
    result.superseded = [
        Record.of(r, plan.now) for r in store.by_seqs(conn, [e.seq for e in superseded])
    ]
    result.decommissioned = [Record.of(r, plan.now) for r in store.by_seqs(conn, gone)]


def _promotion(
    conn: Connection,
    org: uuid.UUID,
    position: int | None,
    digests: list[str | None],
    at: dt.datetime,
) -> dict[str, str]:
    """digest → the logical environment it skipped (SPEC §8), for digests that skipped one."""
    wanted = [d for d in digests if d is not None]
    if position is None or not wanted:
        return {}
    before = [e for e in env_store.promotion_order(conn, org) if (e.position or 0) < position]
    if not before:
        return {}
    previous = before[-1]
    ran = store.ran_in_many(conn, org, previous.id, wanted, at)
    return {d: previous.name for d in wanted if d not in ran}


def _created(values: dict[str, Any], req: SnapshotRequest, space: _Space) -> Record:
    return Record(
        id=values["id"],
        environment=req.environment,
        logical_environment=req.logical_environment,
        deployment_name=values["deployment_name"],
        kind=Kind(values["kind"]),
        digest=values["artifact_digest"],
        artifact_name=values["artifact_name"],
        artifact_version=values["artifact_version"],
        status=Status.DEPLOYED,
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        last_seen_at=values["last_seen_at"],
        ended_at=None,
        superseded_by=None,
        ended_reason=None,
        heartbeats=0,
        stale=False,
        scope=values["scope"],
        reported_by=ReportedBy(values["recorded_by"], req.ci),
        promotion_skipped=values["promotion_skipped"],
        policy=values["policy"] or {"status": "none"},
    )


def _audit(
    conn: Connection,
    actor: Actor,
    req: SnapshotRequest,
    result: SyncResult,
    fresh_unattested: list[snapshot_store.Workload],
) -> None:
    space = f"{req.environment}/{req.logical_environment}"
    changes: list[audit.Change] = []
    for row in result.superseded:
        changes.append(
            audit.Change(
                "deployment.superseded",
                f"deployment/{row.id}",
                {
                    "slot": f"{space}/{row.deployment_name}/{row.kind}",
                    "digest": row.digest,
                    "superseded_by": str(row.superseded_by),
                    "ended_at": z(row.ended_at) if row.ended_at else None,
                },
            )
        )
    for row in result.created:
        changes.append(created_change(f"{space}/{row.deployment_name}/{row.kind}", row))
    for row in result.decommissioned:
        changes.append(
            audit.Change(
                "deployment.decommissioned",
                f"deployment/{row.id}",
                {
                    "slot": f"{space}/{row.deployment_name}/{row.kind}",
                    "digest": row.digest,
                    "ended_at": z(row.ended_at) if row.ended_at else None,
                    "reason": row.ended_reason.value if row.ended_reason else None,
                    "scope": result.snapshot.scope,
                },
            )
        )
    for refused in result.refused:
        slot = f"{space}/{refused.deployment_name}/{refused.kind}"
        reasons = "; ".join(f"{v['policy']}: {v['message']}" for v in refused.violations)
        changes.append(
            audit.Change(
                "deployment.refused",
                f"slot/{slot}",
                {
                    "slot": slot,
                    "digest": refused.digest,
                    "reason": ("refused by policy: " + reasons)[: validation.MAX_DESCRIPTION],
                    "scope": result.snapshot.scope,
                },
            )
        )
    if changes:
        audit.append_many(conn, actor.org_id, actor.name, changes)
    # What runs without evidence is news once, when a workload first shows up unattested
    # (or with another unattested digest): no audit entry stands for it, so an event.
    events.emit_many(
        conn,
        actor.org_id,
        [
            events.NewEvent(
                events.UNATTESTED,
                f"workload/{space}/{w.deployment_name}/{w.kind}",
                {
                    "slot": f"{space}/{w.deployment_name}/{w.kind}",
                    "digest": w.digest,
                    "artifact_name": w.artifact_name,
                    "artifact_version": w.artifact_version,
                    "reason": w.reason,
                    "scope": result.snapshot.scope,
                },
                f"{space}/{w.deployment_name}/{w.kind}",
            )
            for w in fresh_unattested
        ],
    )


# Reading what snapshots left ------------------------------------------------------


@dataclass(frozen=True)
class ScopeState:
    logical_environment: str
    scope: str
    snapshot_id: uuid.UUID
    observed_at: dt.datetime
    applied_at: dt.datetime
    reported_by: str | None
    summary: dict[str, Any]


@dataclass(frozen=True)
class UnattestedWorkload:
    environment: str
    logical_environment: str
    scope: str
    deployment_name: str
    kind: str
    digest: str | None
    artifact_name: str | None
    artifact_version: str | None
    reason: str
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


def _workload(row: snapshot_store.UnattestedRow) -> UnattestedWorkload:
    fields = {k: v for k, v in row.__dict__.items() if k != "seq"}
    return UnattestedWorkload(**fields)


@dataclass(frozen=True)
class RuntimeView:
    """What the environment's reporters said last: per scope, and what runs unattested."""

    scopes: list[ScopeState]
    unattested: list[UnattestedWorkload]


def runtime_view(conn: Connection, actor: Actor, environment_id: uuid.UUID) -> RuntimeView:
    """For `environment describe` (the caller has read access and an open transaction)."""
    scopes = [
        ScopeState(
            s.logical_environment,
            s.scope,
            s.snapshot_id,
            s.observed_at,
            s.applied_at,
            s.reported_by,
            s.summary,
        )
        for s in snapshot_store.scopes_of_environment(conn, actor.org_id, environment_id)
    ]
    workloads = snapshot_store.unattested_of_environment(conn, actor.org_id, environment_id, 500)
    return RuntimeView(scopes, [_workload(w) for w in workloads])


def list_unattested(
    db: Database,
    actor: Actor,
    *,
    environment: str | None = None,
    logical_environment: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> pagination.Page[UnattestedWorkload]:
    """Workloads the org's reporters saw running without evidence, newest first."""
    from deploytrace.services.deployments import environment_ids

    actor.require(Action.READ)
    size = pagination.limit(limit)
    before = pagination.decode_seq(cursor)
    with db.read() as conn:
        env_ids = environment_ids(conn, actor, env_store.environments, environment)
        lenv_ids = environment_ids(conn, actor, env_store.logical_environments, logical_environment)
        rows = snapshot_store.unattested_page(
            conn,
            actor.org_id,
            environment_ids=env_ids,
            logical_environment_ids=lenv_ids,
            before_seq=before,
            limit=size + 1,
        )
    page = pagination.page(rows, size, lambda r: r.seq)
    return pagination.Page([_workload(r) for r in page.items], page.next_cursor)


def describe_environment(db: Database, actor: Actor, name: str) -> tuple[Any, RuntimeView]:
    """An environment with what its reporters said last (SPEC §7 `environment describe`)."""
    from deploytrace.services.environments import environments

    actor.require(Action.READ)
    with db.read() as conn:
        env = environments.get(conn, actor, name)
        return env, runtime_view(conn, actor, env.id)
