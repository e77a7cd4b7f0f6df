"""Artifacts: the gate that lets only attested artifacts be recorded, and the trace from
a digest to the evidence behind it and every deployment of it."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection

from deploytrace import digests
from deploytrace.errors import InvalidInput, NotAttested, NotFound
from deploytrace.services import pagination, prefixes
from deploytrace.services.context import Action, Actor
from deploytrace.services.records import Record, cursor_of, decode_cursor
from deploytrace.services.verdicts import Verdict, verdict_of
from deploytrace.storage import artifacts as store
from deploytrace.storage import deployments as deployment_store
from deploytrace.storage.base import utcnow
from deploytrace.storage.db import Database
from deploytrace.vocabulary import ArtifactRole, Kind


@dataclass(frozen=True)
class Summary:
    """Who stands behind an artifact: distinct workflows, projects and versions."""

    workflows: list[str]
    projects: list[str]
    project_versions: list[tuple[str, str]]


@dataclass(frozen=True)
class EvidenceEntry:
    """One attestation naming an artifact, and the role the artifact plays in it."""

    digest: str  # the attestation's
    predicate_type: str
    role: ArtifactRole
    material_type: str | None
    name: str | None
    workflow: str | None
    project: str | None
    project_version: str | None
    verification: Verdict
    created_at: dt.datetime


@dataclass(frozen=True)
class Trace:
    digest: str
    attestations: list[EvidenceEntry]
    attestations_next_cursor: str | None
    summary: Summary
    deployments: list[Record]
    deployments_next_cursor: str | None


def require_attested(
    conn: Connection, org_id: uuid.UUID, digest: str, kind: Kind | str
) -> str | None:
    """The gate: only a subject, or a typed material of a compatible kind, attests an artifact.

    Runs in the caller's transaction and answers the name the newest attesting subject
    gives the artifact (None if it names none); raises `NotAttested` (a `NotFound`)
    saying what evidence there is instead, if any.
    """
    attested, name = store.attesting_name(conn, org_id, digest, str(kind))
    if attested:
        return name
    found = store.attesting_types(conn, org_id, digest)
    typed = sorted(
        t for role in store.ATTESTING_ROLES for t in found.get(role, set()) if t is not None
    )
    if typed:
        raise NotAttested(
            f"artifact {digest} is attested as {', '.join(typed)}, not as {kind}: "
            "no attestation of a compatible kind"
        )
    if found.get(ArtifactRole.INPUT):
        raise NotAttested(
            f"artifact {digest} is not attested: it is only a build input of attestations "
            "here; attest the artifact itself before recording it"
        )
    raise NotAttested(
        f"artifact {digest} is not attested in this organization: "
        "push an attestation that names it first (deploytrace attestation push FILE)"
    )


def summary(conn: Connection, org_id: uuid.UUID, digest: str, limit: int = 100) -> Summary:
    """The workflows, projects and project versions behind `digest` (each cut at `limit`)."""
    workflows, projects, versions = store.owners(conn, org_id, digest, limit)
    return Summary(workflows, projects, versions)


def _entry(ref: store.RefRow) -> EvidenceEntry:
    row = ref.attestation
    return EvidenceEntry(
        digest=row.digest,
        predicate_type=row.predicate_type,
        role=ArtifactRole(ref.role),
        material_type=ref.material_type,
        name=ref.name,
        workflow=row.workflow,
        project=row.project,
        project_version=row.project_version,
        verification=verdict_of(row),
        created_at=row.created_at,
    )


def evidence_page(
    conn: Connection, org_id: uuid.UUID, digest: str, *, limit: int, cursor: str | None
) -> tuple[list[EvidenceEntry], str | None]:
    """The attestations naming `digest` (normalized), newest first, and the next cursor."""
    before = pagination.decode(cursor, list)
    if before is not None and (
        len(before) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in before)
    ):
        raise InvalidInput("invalid cursor: pass back the next_cursor of a previous page")
    rows = store.refs_page(
        conn, org_id, digest, before=tuple(before) if before else None, limit=limit + 1
    )
    found = pagination.page(rows, limit, lambda r: [r.attestation.seq, r.ref_id])
    return [_entry(r) for r in found.items], found.next_cursor


def resolve(conn: Connection, actor: Actor, value: str) -> str:
    """A digest in any spelling `digests.parse` accepts, or the one digest a unique prefix
    (≥ 8 hex, as tables show them) names among what the org's attestations and records
    name; `Ambiguous` for several, `NotFound` for none."""
    prefix = prefixes.digest_prefix(value)
    if prefix is None:
        return digests.parse(value)
    candidates = store.named_with_prefix(conn, actor.org_id, prefix)
    candidates += deployment_store.digests_with_prefix(conn, actor.org_id, prefix)
    found = prefixes.one(value, "digest", candidates)
    if found is None:
        raise NotFound(f"no artifact digest starts with {prefix}")
    return found


def trace(
    db: Database,
    actor: Actor,
    digest: str,
    *,
    limit: int | None = None,
    attestations_cursor: str | None = None,
    deployments_cursor: str | None = None,
) -> Trace:
    """Where an artifact runs and ran, and the evidence behind it.

    `digest` in any spelling `deploytrace.digests.parse` accepts (`InvalidInput`
    otherwise); `NotFound` when no attestation or deployment names it.
    """
    actor.require(Action.READ)
    size = pagination.limit(limit)
    before = decode_cursor(deployments_cursor)
    now = utcnow()
    with db.read() as conn:
        digest = resolve(conn, actor, digest)
        refs, refs_next = evidence_page(
            conn, actor.org_id, digest, limit=size, cursor=attestations_cursor
        )
        records = deployment_store.list_page(
            conn,
            deployment_store.Filters(org_id=actor.org_id, digest=digest, history=True),
            before=before,
            limit=size + 1,
        )
        if not refs and not records and attestations_cursor is None and before is None:
            raise NotFound(f"artifact {digest} not found: no attestation or deployment names it")
        owners = summary(conn, actor.org_id, digest)
    found = pagination.page(records, size, cursor_of)
    return Trace(
        digest,
        refs,
        refs_next,
        owners,
        [Record.of(r, now) for r in found.items],
        found.next_cursor,
    )
