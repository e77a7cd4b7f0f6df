"""Deployment records: the state machine of SPEC §3 with the order rules of §7,
promotion (§8), listing (at an instant too) and describing.

`record` runs in one write transaction that first takes the slot's lock, so
concurrent writers of one slot queue behind each other and each sees the state
the previous one left; the partial unique index on the active slot is the
database's backstop should anything bypass that lock. Checks that cost CPU or
read a lot (policies) run before that transaction opens.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, Table

from deploytrace.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAttested,
    NotFound,
    StaleReport,
)
from deploytrace.services import (
    artifacts,
    audit,
    pagination,
    policies,
    prefixes,
    tenancy,
    validation,
)
from deploytrace.services.context import Action, Actor, Role
from deploytrace.services.records import CiRun, Record, cursor_of, decode_cursor, z
from deploytrace.storage import artifacts as artifact_store
from deploytrace.storage import deployments as store
from deploytrace.storage import environments as env_store
from deploytrace.storage import record_path as lookup
from deploytrace.storage.base import new_id, utcnow
from deploytrace.storage.db import Database
from deploytrace.vocabulary import EndedReason, RecordAction, Status

# Reports may come from clocks a little ahead of the server's; not further.
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class RecordRequest:
    environment: str
    logical_environment: str
    deployment_name: str
    kind: str
    digest: str
    artifact_name: str | None = None
    artifact_version: str | None = None
    status: str = Status.DEPLOYED.value
    observed_at: dt.datetime | None = None  # when the reporter saw it; None: now
    ci: CiRun | None = None
    override_reason: str | None = None

    def validated(self, now: dt.datetime) -> RecordRequest:
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
            observed_at=observed_time(self.observed_at, now),
            ci=self.ci.validated() if self.ci else None,
            override_reason=validation.text(
                self.override_reason, "override reason", validation.MAX_DESCRIPTION
            ),
        )


def observed_time(value: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """A reporter's `observed_at`: aware, UTC, and not in the future beyond clock skew."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput("observed_at needs a time zone, e.g. 2026-11-25T10:00:00Z")
    value = value.astimezone(dt.UTC)
    if value > now + MAX_CLOCK_SKEW:
        raise InvalidInput(
            f"observed_at {value:%Y-%m-%dT%H:%M:%SZ} is in the future "
            f"(more than {int(MAX_CLOCK_SKEW.total_seconds() // 60)} minutes ahead of the server)"
        )
    return value


@dataclass(frozen=True)
class RecordResult:
    record: Record
    action: RecordAction
    previous: Record | None = None  # the record this one superseded

    @property
    def created(self) -> bool:
        return self.action in (RecordAction.CREATED, RecordAction.SUPERSEDED_PREVIOUS)


class _Again(Exception):
    """Leave the write transaction (rolled back) to do something outside it, then retry:
    confirm the token (`confirm`) or run the policy gate."""

    def __init__(self, *, confirm: bool) -> None:
        super().__init__()
        self.confirm = confirm


def record(db: Database, actor: Actor, request: RecordRequest) -> RecordResult:
    """Apply one report to its slot (SPEC §3 table, §7 order rules) and say what it did.

    Raises NotFound (unknown environment or logical environment, unattested
    artifact, nothing to decommission), Conflict (decommissioning another digest),
    StaleReport (a state change observed before the slot's latest observation),
    InvalidInput, Forbidden. Accepts an `unconfirmed` actor (tenancy.recently_verified):
    its token is confirmed by the first statement that does the work, and the request
    is refused with Unauthenticated if it is no longer live.
    """
    actor.require(Action.WRITE)
    now = utcnow()
    if actor.unconfirmed and prefixes.digest_prefix(request.digest) is not None:
        actor = tenancy.confirm(db, actor)  # the prefix is resolved in a read of its own
    req = _whole_digest(db, actor, request).validated(now)
    if req.override_reason is not None and actor.role is not Role.ADMIN:
        raise Forbidden("only an admin may record despite a policy (--override-reason)")
    if req.status == Status.DEPLOYED:
        # The common case, a pipeline re-recording what runs, is one statement.
        with db.single(write=True) as conn:
            beat = _heartbeat(conn, actor, req, now)
        if beat is not None:
            return beat
    policy: dict[str, Any] | None = None
    gated = False
    while True:
        try:
            return _record(db, actor, req, now, policy, gated=gated)
        except _Again as again:
            if again.confirm:
                actor = tenancy.confirm(db, actor)  # refuses a revoked or expired token
                continue
        # The transaction's first statement found the token live.
        actor = replace(actor, unconfirmed=False)
        # A policy is attached where the record would be created: the policies
        # decide, evaluated outside the write transaction (no lock held meanwhile).
        policy = _gate(db, actor, req)
        gated = True


def _record(
    db: Database,
    actor: Actor,
    req: RecordRequest,
    now: dt.datetime,
    policy: dict[str, Any] | None,
    *,
    gated: bool,
) -> RecordResult:
    """The write transaction of `record`; _Again to confirm the token or to run the
    policy gate first (the transaction's first statement tells whether either is due)."""
    with db.write() as conn:
        ids = lookup.slot_ids(
            conn,
            actor.org_id,
            req.environment,
            req.logical_environment,
            req.deployment_name,
            req.kind,
            digest=req.digest,
            token_id=actor.token_id,
            now=now,
        )
        if actor.unconfirmed and not ids.token_live:
            raise _Again(confirm=True)
        slot = _slot(conn, actor, req, ids)
        if req.status == Status.DEPLOYED and ids.policy_attached and not gated:
            raise _Again(confirm=False)
        # Shared on the (environment, logical environment): a snapshot sync of it
        # takes it exclusively and so never interleaves with a single report.
        db.lock_key(conn, "slot", *slot.key, shared=("space", *slot.key[:3]))
        slot = store.refresh_slot(conn, slot)
        stale_after = ids.stale_after_seconds
        active = store.active_in_slot(conn, slot, stale_after)
        latest = active or store.latest_in_slot(conn, slot, stale_after)
        if req.status == Status.DEPLOYED:
            result = _deploy(conn, actor, slot, req, ids, active, latest, now, policy)
        else:
            result = _decommission(conn, slot, req, active, latest, now, stale_after)
        _audit(conn, actor, slot, result)  # the transaction's last statement, with COMMIT
    return result


def _whole_digest(db: Database, actor: Actor, request: RecordRequest) -> RecordRequest:
    """The request with a digest prefix (≥ 8 hex digits, as tables show digests) replaced by
    the one digest the organization's attestations attest that starts with it.

    Only attested digests count, so a mistyped prefix cannot pick an artifact that could
    never be recorded anyway; several matches are refused with the candidates (Ambiguous),
    none is NotAttested.
    """
    prefix = prefixes.digest_prefix(request.digest)
    if prefix is None:
        return request
    with db.read() as conn:
        candidates = artifact_store.attested_with_prefix(conn, actor.org_id, prefix)
    found = prefixes.one(request.digest, "digest", candidates)
    if found is None:
        algorithm, _, hexes = prefix.partition(":")
        whole = prefixes.FULL_HEX[algorithm]
        raise NotAttested(
            f"no attested artifact has a digest starting with {prefix} "
            f"(a whole {algorithm} digest has {whole} hex digits, this has {len(hexes)})"
        )
    return replace(request, digest=found)


def _gate(db: Database, actor: Actor, req: RecordRequest) -> dict[str, Any]:
    """The policy verdict a new record keeps; PolicyViolation (and an audit entry saying
    so) when an enforced policy refuses it and no admin overrides."""
    decision = policies.check(
        db,
        actor,
        policies.Target(
            digest=req.digest,
            kind=req.kind,
            environment=req.environment,
            logical_environment=req.logical_environment,
            deployment_name=req.deployment_name,
            artifact_name=req.artifact_name,
            artifact_version=req.artifact_version,
        ),
    )
    override = None
    if decision.enforced:
        if req.override_reason is None:
            refusal = decision.refusal()
            _audit_refusal(db, actor, req, refusal.message)
            raise refusal
        override = (actor.name, req.override_reason)
    return policies.record_policy(decision, override)


def _audit_refusal(db: Database, actor: Actor, req: RecordRequest, message: str) -> None:
    # The refusal stores no record, but who tried to deploy what is worth keeping.
    slot = f"{req.environment}/{req.logical_environment}/{req.deployment_name}/{req.kind}"
    with db.write() as conn:
        audit.append(
            conn,
            actor.org_id,
            actor.name,
            "deployment.refused",
            f"slot/{slot}",
            {"slot": slot, "digest": req.digest, "reason": message[: validation.MAX_DESCRIPTION]},
        )


def _heartbeat(
    conn: Connection, actor: Actor, req: RecordRequest, now: dt.datetime
) -> RecordResult | None:
    row = store.heartbeat_by_names(
        conn,
        actor.org_id,
        environment=req.environment,
        logical_environment=req.logical_environment,
        deployment_name=req.deployment_name,
        kind=req.kind,
        digest=req.digest,
        seen=req.observed_at or now,
        now=now,
        observed=req.observed_at is not None,
        confirm_token=actor.token_id if actor.unconfirmed else None,
    )
    return RecordResult(Record.of(row, now), RecordAction.HEARTBEAT) if row is not None else None


def _slot(conn: Connection, actor: Actor, req: RecordRequest, ids: lookup.SlotIds) -> store.Slot:
    from deploytrace.services.environments import environments, logical_environments

    if ids.environment_id is None:
        environments.not_found(conn, actor, req.environment)
    if ids.logical_environment_id is None:
        logical_environments.not_found(conn, actor, req.logical_environment)
    assert ids.environment_id is not None and ids.logical_environment_id is not None
    return store.Slot(
        org_id=actor.org_id,
        environment_id=ids.environment_id,
        logical_environment_id=ids.logical_environment_id,
        deployment_name=req.deployment_name,
        kind=req.kind,
        environment=req.environment,
        logical_environment=req.logical_environment,
        id=ids.slot_id,
    )


def _effective_time(
    req: RecordRequest, latest: store.RecordRow | None, now: dt.datetime, slot: store.Slot
) -> dt.datetime:
    """When a state change takes effect: the report's time, refused if the slot knows newer.

    Without `observed_at` it is the server's clock, never earlier than what the
    slot already knows (a clock a little ahead may have imported history).
    """
    known = latest.latest_observation if latest is not None else None
    if req.observed_at is None:
        return max(now, known) if known is not None else now
    if known is not None and req.observed_at < known:
        raise StaleReport(
            f"stale report: {slot.label} was observed at {z(known)}, later than this "
            f"report's {z(req.observed_at)}; nothing changed"
        )
    return req.observed_at


def _audit(conn: Connection, actor: Actor, slot: store.Slot, result: RecordResult) -> None:
    """Transitions are audited; heartbeats only count (`heartbeats` on the record)."""
    if result.action in (RecordAction.HEARTBEAT, RecordAction.UNCHANGED):
        return
    entries: list[audit.Change] = []
    previous = result.previous
    row = result.record
    if previous is not None:
        entries.append(
            audit.Change(
                "deployment.superseded",
                f"deployment/{previous.id}",
                {
                    "slot": slot.label,
                    "digest": previous.digest,
                    "superseded_by": str(row.id),
                    "ended_at": z(previous.ended_at) if previous.ended_at else None,
                },
            )
        )
    if result.action is RecordAction.DECOMMISSIONED:
        entries.append(
            audit.Change(
                "deployment.decommissioned",
                f"deployment/{row.id}",
                {
                    "slot": slot.label,
                    "digest": row.digest,
                    "ended_at": z(row.ended_at) if row.ended_at else None,
                    "reason": EndedReason.DECOMMISSIONED.value,
                },
            )
        )
    else:
        entries.append(created_change(slot.label, row))
        override = row.policy.get("override")
        if isinstance(override, dict):
            entries.append(
                audit.Change(
                    "deployment.policy_overridden",
                    f"deployment/{row.id}",
                    {
                        "slot": slot.label,
                        "digest": row.digest,
                        "by": str(override.get("by")),
                        "reason": str(override.get("reason")),
                    },
                )
            )
    audit.append_many(conn, actor.org_id, actor.name, entries, commit=True)


def created_change(slot_label: str, row: Record) -> audit.Change:
    """The audit entry of a created record (shared with the snapshot sync)."""
    return audit.Change(
        "deployment.created",
        f"deployment/{row.id}",
        {
            "slot": slot_label,
            "digest": row.digest,
            "artifact_name": row.artifact_name,
            "artifact_version": row.artifact_version,
            "created_at": z(row.created_at),
            "scope": row.scope,
            "promotion_skipped": row.promotion_skipped,
            "policy": str(row.policy.get("status")),
        },
    )


def _deploy(
    conn: Connection,
    actor: Actor,
    slot: store.Slot,
    req: RecordRequest,
    ids: lookup.SlotIds,
    active: store.RecordRow | None,
    latest: store.RecordRow | None,
    now: dt.datetime,
    policy: dict[str, Any] | None,
) -> RecordResult:
    stale_after = ids.stale_after_seconds
    if active is not None and active.artifact_digest == req.digest:
        # The lock-free heartbeat matched nothing: a concurrent writer created it
        # meanwhile, or the report is older than what the record knows.
        beat = _heartbeat(conn, actor, req, now)
        if beat is not None:
            return beat
        return RecordResult(Record.of(active, now), RecordAction.HEARTBEAT)
    at = _effective_time(req, latest, now, slot)
    # Records never change artifact, so the evidence is checked once, here, when
    # a record is created; its heartbeats need no new check.
    if ids.attested:
        named = ids.attested_name
    else:  # says what evidence there is instead
        named = artifacts.require_attested(conn, actor.org_id, req.digest, req.kind)
    if req.artifact_name is None and named:
        # `--digest` without `--artifact-name`: the attestation's subject names it.
        req = replace(req, artifact_name=validation.clip(named, validation.MAX_ARTIFACT_NAME))
    new = new_id()
    previous = None
    slot = store.ensure_slot(conn, slot, now)
    if active is not None:
        previous = store.end(
            conn,
            slot,
            active.seq,
            reason=EndedReason.SUPERSEDED,
            at=at,
            now=now,
            stale_after=stale_after,
            superseded_by=new,
        )
        # The successor starts exactly when its predecessor ended (which may be
        # later than `at`: see storage.deployments._not_before).
        assert previous.ended_at is not None
        at = previous.ended_at
    row = store.insert_record(
        conn,
        slot,
        store.NewRecord(
            digest=req.digest,
            artifact_name=req.artifact_name,
            artifact_version=req.artifact_version,
            recorded_by=actor.name,
            reported_ci=req.ci.as_dict() if req.ci else None,
            policy=policy,
        ),
        record_id=new,
        at=at,
        now=now,
        stale_after=stale_after,
        # SPEC §8, decided by the INSERT: skipped unless the digest ran there before `at`.
        previous=(ids.previous_id, ids.previous_name)
        if ids.previous_id is not None and ids.previous_name is not None
        else None,
    )
    action = RecordAction.SUPERSEDED_PREVIOUS if previous else RecordAction.CREATED
    return RecordResult(Record.of(row, now), action, Record.of(previous, now) if previous else None)


def _decommission(
    conn: Connection,
    slot: store.Slot,
    req: RecordRequest,
    active: store.RecordRow | None,
    latest: store.RecordRow | None,
    now: dt.datetime,
    stale_after: int | None,
) -> RecordResult:
    if active is not None:
        if active.artifact_digest != req.digest:
            raise Conflict(
                f"cannot decommission {req.digest}: the slot runs {active.artifact_digest}"
            )
        at = _effective_time(req, latest, now, slot)
        ended = store.end(
            conn,
            slot,
            active.seq,
            reason=EndedReason.DECOMMISSIONED,
            at=at,
            now=now,
            stale_after=stale_after,
        )
        return RecordResult(Record.of(ended, now), RecordAction.DECOMMISSIONED)
    if (
        latest is not None
        and latest.status == store.DECOMMISSIONED
        and latest.artifact_digest == req.digest
    ):
        return RecordResult(Record.of(latest, now), RecordAction.UNCHANGED)
    raise NotFound(
        f"nothing to decommission: {req.digest} is not deployed in "
        f"{req.environment}/{req.logical_environment}/{req.deployment_name} ({req.kind})"
    )


# Lists ------------------------------------------------------------------------------


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
    at: dt.datetime | None = None
    stale: bool = False
    skipped_promotion: bool = False
    limit: int | None = None
    cursor: str | None = None
    extra: list[Any] = field(default_factory=list)


def environment_ids(
    conn: Connection, actor: Actor, table: Table, name: str | None
) -> list[uuid.UUID] | None:
    """Every (logical) environment ever called `name` (history filters need deleted ones
    too); None without a name; NotFound, with suggestions, for a name never used."""
    from deploytrace.services.environments import environments, logical_environments

    if name is None:
        return None
    ids = env_store.ids_by_name(conn, table, actor.org_id, name)
    if not ids:
        service = environments if table is env_store.environments else logical_environments
        service.not_found(conn, actor, name)
    return ids


def resolve_digest(conn: Connection, org_id: uuid.UUID, value: str) -> str:
    """A whole digest, or the one digest of the org's records a prefix names."""
    prefix = prefixes.digest_prefix(value)
    if prefix is None:
        return validation.digest(value)
    found = prefixes.one(value, "digest", store.digests_with_prefix(conn, org_id, prefix))
    if found is None:
        raise NotFound(f"no deployment record has a digest starting with {prefix}")
    return found


def list_records(db: Database, actor: Actor, query: ListQuery) -> pagination.Page[Record]:
    """Records newest first (by created_at): active ones, with `history` every one, with
    `at` exactly those deployed at that instant; every filter combines."""
    actor.require(Action.READ)
    size = pagination.limit(query.limit)
    before = decode_cursor(query.cursor)
    now = utcnow()
    if query.at is not None and query.at.tzinfo is None:
        raise InvalidInput("at needs a time zone, e.g. 2026-11-25T14:00:00Z")
    with db.read() as conn:
        filters = store.Filters(
            org_id=actor.org_id,
            environment_ids=environment_ids(conn, actor, env_store.environments, query.environment),
            logical_environment_ids=environment_ids(
                conn, actor, env_store.logical_environments, query.logical_environment
            ),
            deployment_name=query.deployment_name,
            kind=validation.kind(query.kind) if query.kind else None,
            digest=resolve_digest(conn, actor.org_id, query.digest) if query.digest else None,
            history=query.history,
            at=query.at,
            skipped_promotion=query.skipped_promotion,
            stale_at=now if query.stale else None,
        )
        extra = list(query.extra)
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
        if query.at is not None and query.at > now:
            # Nothing is known to run in the future (SPEC §8): an empty answer, not
            # today's records presented as a forecast (the filters are checked all the same).
            rows = []
        else:
            rows = store.list_page(conn, filters, before=before, limit=size + 1, extra=extra)
    page = pagination.page(rows, size, cursor_of)
    return pagination.Page([Record.of(r, now) for r in page.items], page.next_cursor)


@dataclass(frozen=True)
class Described:
    record: Record
    attestations: list[artifacts.EvidenceEntry]
    attestations_next_cursor: str | None
    summary: artifacts.Summary


def find(conn: Connection, actor: Actor, record_id: str) -> store.RecordRow:
    """A record by its id or a unique id prefix (≥ 8 hex characters)."""
    try:
        parsed = uuid.UUID(record_id)
    except ValueError:
        span = prefixes.uuid_range(record_id)
        if span is None:
            raise NotFound(f"deployment record {record_id!r} not found") from None
        rows = store.by_id_prefix(conn, actor.org_id, *span)
        found = prefixes.one(record_id, "record id", [str(r.id) for r in rows])
        if found is None:
            raise NotFound(f"no deployment record id starts with {record_id!r}") from None
        parsed = uuid.UUID(found)
    row = store.get(conn, actor.org_id, parsed)
    if row is None:
        raise NotFound(f"deployment record {record_id!r} not found")
    return row


def describe(
    db: Database,
    actor: Actor,
    record_id: str,
    *,
    limit: int | None = None,
    attestations_cursor: str | None = None,
) -> Described:
    """The record (by id or unique id prefix) and the evidence behind its artifact."""
    actor.require(Action.READ)
    size = pagination.limit(limit)
    with db.read() as conn:
        row = find(conn, actor, record_id)
        refs, refs_next = artifacts.evidence_page(
            conn, actor.org_id, row.artifact_digest, limit=size, cursor=attestations_cursor
        )
        summary = artifacts.summary(conn, actor.org_id, row.artifact_digest)
    return Described(Record.of(row, utcnow()), refs, refs_next, summary)
