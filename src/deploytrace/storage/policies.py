"""Policies, their versions and where they are attached; the facts a gate reads.

A policy keeps every version it had (the document's exact bytes and its parsed
entries, so a gate never parses YAML); `latest_version` is the one
attachments follow. Removing a policy is soft (its name and versions stay
readable from the records that name them) and removes its attachments; adding
it again continues its numbering.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from deploytrace.storage.artifacts import ATTESTING_ROLES, artifact_refs
from deploytrace.storage.attestations import attestations
from deploytrace.storage.base import UTCDateTime, metadata
from deploytrace.storage.deployments import deployment_records
from deploytrace.storage.environments import environments, logical_environments
from deploytrace.storage.projects import project_versions, projects, workflows

policies = Table(
    "policies",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("latest_version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    UniqueConstraint("org_id", "name"),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("policy_id", Uuid, ForeignKey("policies.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(71), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("entries", JSON, nullable=False),
    Column("args", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(63)),
    UniqueConstraint("policy_id", "version"),
)

policy_attachments = Table(
    "policy_attachments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("policy_id", Uuid, ForeignKey("policies.id"), nullable=False),
    Column("logical_environment_id", Uuid, ForeignKey("logical_environments.id"), nullable=False),
    Column("environment_id", Uuid, ForeignKey("environments.id")),  # NULL: every environment
    Column("mode", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("created_by", String(63)),
    CheckConstraint("mode IN ('enforce', 'advisory')", name="mode"),
    # NULLs are distinct in unique indexes, so "every environment" needs its own.
    Index(
        "uq_policy_attachments_all_environments",
        "policy_id",
        "logical_environment_id",
        unique=True,
        postgresql_where="environment_id IS NULL",
        sqlite_where="environment_id IS NULL",
    ),
    Index(
        "uq_policy_attachments_one_environment",
        "policy_id",
        "logical_environment_id",
        "environment_id",
        unique=True,
        postgresql_where="environment_id IS NOT NULL",
        sqlite_where="environment_id IS NOT NULL",
    ),
    Index(
        "ix_policy_attachments_org_id_logical_environment_id", "org_id", "logical_environment_id"
    ),
)


@dataclass(frozen=True)
class PolicyRow:
    id: uuid.UUID
    name: str
    description: str
    latest_version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None


@dataclass(frozen=True)
class VersionRow:
    version: int
    digest: str
    entries: list[dict[str, Any]]
    args: dict[str, str]
    created_at: dt.datetime
    created_by: str | None


@dataclass(frozen=True)
class AttachmentRow:
    policy: str
    logical_environment: str
    environment: str | None
    mode: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class GateRow:
    """A policy that applies where a deployment lands, at its latest version."""

    name: str
    description: str
    version: int
    digest: str
    entries: list[dict[str, Any]]
    args: dict[str, str]
    mode: str


p, v, at = policies, policy_versions, policy_attachments


def _policy(row: Any) -> PolicyRow:
    m = row._mapping
    return PolicyRow(**{k: m[k] for k in PolicyRow.__dataclass_fields__})


def get(
    conn: Connection, org_id: uuid.UUID, name: str, *, removed: bool = False
) -> PolicyRow | None:
    query = select(p).where(p.c.org_id == org_id, p.c.name == name)
    if not removed:
        query = query.where(p.c.deleted_at.is_(None))
    row = conn.execute(query).first()
    return _policy(row) if row else None


def latest(conn: Connection, policy_id: uuid.UUID) -> tuple[VersionRow, bytes] | None:
    row = conn.execute(
        select(v)
        .join(p, p.c.id == v.c.policy_id)
        .where(v.c.policy_id == policy_id, v.c.version == p.c.latest_version)
    ).first()
    if row is None:
        return None
    return _version(row), bytes(row.content)


def _version(row: Any) -> VersionRow:
    return VersionRow(
        row.version, row.digest, list(row.entries), dict(row.args), row.created_at, row.created_by
    )


def versions(conn: Connection, policy_id: uuid.UUID) -> list[VersionRow]:
    rows = conn.execute(
        select(v.c.version, v.c.digest, v.c.entries, v.c.args, v.c.created_at, v.c.created_by)
        .where(v.c.policy_id == policy_id)
        .order_by(v.c.version.desc())
    )
    return [_version(row) for row in rows]


def create(
    conn: Connection,
    *,
    org_id: uuid.UUID,
    policy_id: uuid.UUID,
    name: str,
    description: str,
    now: dt.datetime,
) -> None:
    conn.execute(
        insert(p).values(
            id=policy_id,
            org_id=org_id,
            name=name,
            description=description,
            latest_version=0,
            created_at=now,
            updated_at=now,
        )
    )


def add_version(
    conn: Connection,
    *,
    org_id: uuid.UUID,
    policy: PolicyRow,
    version_id: uuid.UUID,
    digest: str,
    content: bytes,
    entries: list[dict[str, Any]],
    args: dict[str, str],
    description: str,
    now: dt.datetime,
    by: str,
) -> int:
    number = policy.latest_version + 1
    conn.execute(
        insert(v).values(
            id=version_id,
            org_id=org_id,
            policy_id=policy.id,
            version=number,
            digest=digest,
            content=content,
            entries=entries,
            args=args,
            created_at=now,
            created_by=by,
        )
    )
    conn.execute(
        update(p)
        .where(p.c.id == policy.id)
        .values(latest_version=number, description=description, updated_at=now, deleted_at=None)
    )
    return number


def list_page(
    conn: Connection, org_id: uuid.UUID, *, after: str | None, limit: int
) -> list[PolicyRow]:
    query = (
        select(p)
        .where(p.c.org_id == org_id, p.c.deleted_at.is_(None))
        .order_by(p.c.name)
        .limit(limit)
    )
    if after is not None:
        query = query.where(p.c.name > after)
    return [_policy(row) for row in conn.execute(query)]


def remove(conn: Connection, policy_id: uuid.UUID, now: dt.datetime) -> int:
    """Soft-delete the policy and delete its attachments; the number of attachments."""
    dropped = conn.execute(delete(at).where(at.c.policy_id == policy_id)).rowcount
    conn.execute(update(p).where(p.c.id == policy_id).values(deleted_at=now, updated_at=now))
    return int(dropped or 0)


_attachment_columns = (
    p.c.name.label("policy"),
    logical_environments.c.name.label("logical_environment"),
    environments.c.name.label("environment"),
    at.c.mode,
    at.c.created_at,
    at.c.updated_at,
)


def _attachments_query() -> Any:
    return (
        select(*_attachment_columns)
        .join(p, p.c.id == at.c.policy_id)
        .join(logical_environments, logical_environments.c.id == at.c.logical_environment_id)
        .outerjoin(environments, environments.c.id == at.c.environment_id)
    )


def attachments_of(
    conn: Connection, org_id: uuid.UUID, policy_ids: list[uuid.UUID]
) -> list[AttachmentRow]:
    if not policy_ids:
        return []
    rows = conn.execute(
        _attachments_query()
        .where(at.c.org_id == org_id, at.c.policy_id.in_(policy_ids))
        .order_by(p.c.name, logical_environments.c.name, environments.c.name)
    )
    return [AttachmentRow(**row._mapping) for row in rows]


def find_attachment(
    conn: Connection,
    policy_id: uuid.UUID,
    logical_environment_id: uuid.UUID,
    environment_id: uuid.UUID | None,
) -> tuple[uuid.UUID, str] | None:
    env_match = (
        at.c.environment_id.is_(None)
        if environment_id is None
        else at.c.environment_id == environment_id
    )
    row = conn.execute(
        select(at.c.id, at.c.mode).where(
            at.c.policy_id == policy_id,
            at.c.logical_environment_id == logical_environment_id,
            env_match,
        )
    ).first()
    return (row.id, row.mode) if row else None


def insert_attachment(
    conn: Connection,
    *,
    org_id: uuid.UUID,
    attachment_id: uuid.UUID,
    policy_id: uuid.UUID,
    logical_environment_id: uuid.UUID,
    environment_id: uuid.UUID | None,
    mode: str,
    now: dt.datetime,
    by: str,
) -> None:
    conn.execute(
        insert(at).values(
            id=attachment_id,
            org_id=org_id,
            policy_id=policy_id,
            logical_environment_id=logical_environment_id,
            environment_id=environment_id,
            mode=mode,
            created_at=now,
            updated_at=now,
            created_by=by,
        )
    )


def set_mode(conn: Connection, attachment_id: uuid.UUID, mode: str, now: dt.datetime) -> None:
    conn.execute(update(at).where(at.c.id == attachment_id).values(mode=mode, updated_at=now))


def delete_attachment(conn: Connection, attachment_id: uuid.UUID) -> None:
    conn.execute(delete(at).where(at.c.id == attachment_id))


# The gate's reads -----------------------------------------------------------------


def gate_policies(
    conn: Connection, org_id: uuid.UUID, environment: str, logical_environment: str
) -> list[GateRow]:
    """Policies attached to `logical_environment` (for every environment or for
    `environment`), at their latest version; one row per attachment, in name order."""
    le, env = logical_environments, environments
    query = (
        select(
            p.c.name,
            p.c.description,
            v.c.version,
            v.c.digest,
            v.c.entries,
            v.c.args,
            at.c.mode,
        )
        .select_from(at)
        .join(p, p.c.id == at.c.policy_id)
        .join(v, (v.c.policy_id == p.c.id) & (v.c.version == p.c.latest_version))
        .join(le, le.c.id == at.c.logical_environment_id)
        .outerjoin(env, env.c.id == at.c.environment_id)
        .where(
            at.c.org_id == org_id,
            p.c.deleted_at.is_(None),
            le.c.name == logical_environment,
            le.c.deleted_at.is_(None),
            or_(
                at.c.environment_id.is_(None),
                (env.c.name == environment) & env.c.deleted_at.is_(None),
            ),
        )
        .order_by(p.c.name)
    )
    return [
        GateRow(
            row.name,
            row.description,
            row.version,
            row.digest,
            list(row.entries),
            dict(row.args),
            row.mode,
        )
        for row in conn.execute(query)
    ]


@dataclass(frozen=True)
class EvidenceRow:
    """One attestation naming a target digest, with what a policy input carries."""

    target: str  # the artifact digest it names
    digest: str
    predicate_type: str
    format: str
    content: bytes
    verification_status: str
    verification_method: str | None
    verification_identity: str | None
    workflow: str | None
    project: str | None
    project_version: str | None
    created_at: dt.datetime


def evidence(
    conn: Connection, org_id: uuid.UUID, kinds: dict[str, str], limit: int
) -> list[EvidenceRow]:
    """Attestations that attest each digest of `kinds` (digest -> record kind), newest
    first, at most `limit` per digest; one query for all digests."""
    if not kinds:
        return []
    r, a = artifact_refs, attestations
    rows = conn.execute(
        select(
            r.c.digest.label("target"),
            r.c.material_type,
            a.c.seq,
            a.c.digest,
            a.c.predicate_type,
            a.c.format,
            a.c.content,
            a.c.verification_status,
            a.c.verification_method,
            a.c.verification_identity,
            workflows.c.name.label("workflow"),
            projects.c.name.label("project"),
            project_versions.c.version.label("project_version"),
            a.c.created_at,
        )
        .join(a, a.c.seq == r.c.attestation_seq)
        .outerjoin(workflows, workflows.c.id == a.c.workflow_id)
        .outerjoin(projects, projects.c.id == a.c.project_id)
        .outerjoin(project_versions, project_versions.c.id == a.c.project_version_id)
        .where(
            r.c.org_id == org_id,
            r.c.digest.in_(sorted(kinds)),
            r.c.role.in_(ATTESTING_ROLES),
        )
        .order_by(r.c.digest, a.c.seq.desc())
    )
    found: list[EvidenceRow] = []
    seen: set[tuple[str, int]] = set()
    counts: dict[str, int] = {}
    for row in rows:
        # Untyped subjects attest any kind; typed materials only their own.
        if row.material_type is not None and row.material_type != kinds[row.target]:
            continue
        if (row.target, row.seq) in seen or counts.get(row.target, 0) >= limit:
            continue
        seen.add((row.target, row.seq))
        counts[row.target] = counts.get(row.target, 0) + 1
        found.append(
            EvidenceRow(
                row.target,
                row.digest,
                row.predicate_type,
                row.format,
                bytes(row.content),
                row.verification_status,
                row.verification_method,
                row.verification_identity,
                row.workflow,
                row.project,
                row.project_version,
                row.created_at,
            )
        )
    return found


@dataclass(frozen=True)
class DeployedRow:
    digest: str
    environment: str
    logical_environment: str
    first_deployed_at: dt.datetime


def deployed_in(conn: Connection, org_id: uuid.UUID, digests: list[str]) -> list[DeployedRow]:
    """Where each digest was ever deployed: one row per (environment, logical environment)."""
    if not digests:
        return []
    d = deployment_records
    first = func.min(d.c.created_at).label("first_deployed_at")
    rows = conn.execute(
        select(
            d.c.artifact_digest,
            environments.c.name.label("environment"),
            logical_environments.c.name.label("logical_environment"),
            first,
        )
        .join(environments, environments.c.id == d.c.environment_id)
        .join(logical_environments, logical_environments.c.id == d.c.logical_environment_id)
        .where(d.c.org_id == org_id, d.c.artifact_digest.in_(sorted(set(digests))))
        .group_by(d.c.artifact_digest, environments.c.name, logical_environments.c.name)
        .order_by(d.c.artifact_digest, first)
    )
    return [
        DeployedRow(
            row.artifact_digest, row.environment, row.logical_environment, row.first_deployed_at
        )
        for row in rows
    ]
