"""The evidence store: attestations (byte-exact), the artifact-digest index, the
projects, versions and workflows attestations name, and the org's trust material.

`artifact_refs` is the index every trace reads: one row per (attestation,
digest, role, material type). Its `(org_id, digest, attestation_seq)` index
answers "is this digest attested here" and "which attestations name it,
newest first" with a range scan, however many attestations the store holds.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    tuple_,
)

from deploytrace.storage.base import BigSerial, UTCDateTime, metadata

projects = Table(
    "projects",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "name"),
)

project_versions = Table(
    "project_versions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("project_id", Uuid, ForeignKey("projects.id"), nullable=False),
    Column("version", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "project_id", "version"),
)

workflows = Table(
    "workflows",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    # The project's name, or "" for a workflow outside any project: a plain column
    # keeps the uniqueness rule expressible on SQLite and PostgreSQL alike.
    Column("project_name", String(255), nullable=False),
    Column("project_id", Uuid, ForeignKey("projects.id")),
    Column("name", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "project_name", "name"),
)

attestations = Table(
    "attestations",
    metadata,
    Column("seq", BigSerial, primary_key=True, autoincrement=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("digest", String(71), nullable=False),
    Column("format", String(32), nullable=False),
    Column("media_type", String(255)),
    Column("statement_type", String(255)),
    Column("predicate_type", String(1024), nullable=False),
    Column("subjects", JSON, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("workflow_id", Uuid, ForeignKey("workflows.id")),
    Column("project_id", Uuid, ForeignKey("projects.id")),
    Column("project_version_id", Uuid, ForeignKey("project_versions.id")),
    Column("verification_status", String(16), nullable=False),
    Column("verification_method", String(64)),
    Column("verification_identity", Text),
    Column("verification_reason", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(63)),
    Column("built_at", UTCDateTime),  # the build finish it states (SPEC §8 lead time)
    UniqueConstraint("org_id", "digest"),
    Index("ix_attestations_org_id_seq", "org_id", "seq"),
    Index("ix_attestations_org_id_project_id_seq", "org_id", "project_id", "seq"),
    Index("ix_attestations_org_id_workflow_id_seq", "org_id", "workflow_id", "seq"),
)

artifact_refs = Table(
    "artifact_refs",
    metadata,
    Column("id", BigSerial, primary_key=True, autoincrement=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("digest", String(255), nullable=False),
    Column("attestation_seq", BigInteger, ForeignKey("attestations.seq"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("material_type", String(64)),
    Column("name", Text),
    Index(
        "ix_artifact_refs_org_id_digest_attestation_seq_id",
        "org_id",
        "digest",
        "attestation_seq",
        "id",
    ),
    Index("ix_artifact_refs_attestation_seq", "attestation_seq"),
)

trust_material = Table(
    "trust_material",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("fingerprint", String(71), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "name"),
)

ATTESTING_ROLES = ("subject", "material")


@dataclass(frozen=True)
class AttestationRow:
    seq: int
    digest: str
    format: str
    media_type: str | None
    statement_type: str | None
    predicate_type: str
    subjects: list[dict[str, Any]]
    size: int
    workflow: str | None
    project: str | None
    project_version: str | None
    verification_status: str
    verification_method: str | None
    verification_identity: str | None
    verification_reason: str | None
    created_at: dt.datetime
    created_by: str | None


@dataclass(frozen=True)
class RefRow:
    """One attestation naming a digest, and how."""

    attestation: AttestationRow
    role: str
    material_type: str | None
    name: str | None
    ref_id: int


@dataclass(frozen=True)
class Ref:
    digest: str
    role: str
    material_type: str | None
    name: str | None


a = attestations
_summary_columns = (
    a.c.seq,
    a.c.digest,
    a.c.format,
    a.c.media_type,
    a.c.statement_type,
    a.c.predicate_type,
    a.c.subjects,
    a.c.size,
    workflows.c.name.label("workflow"),
    projects.c.name.label("project"),
    project_versions.c.version.label("project_version"),
    a.c.verification_status,
    a.c.verification_method,
    a.c.verification_identity,
    a.c.verification_reason,
    a.c.created_at,
    a.c.created_by,
)


def _summary() -> Any:
    return (
        select(*_summary_columns)
        .outerjoin(workflows, workflows.c.id == a.c.workflow_id)
        .outerjoin(projects, projects.c.id == a.c.project_id)
        .outerjoin(project_versions, project_versions.c.id == a.c.project_version_id)
    )


def _attestation(row: Any) -> AttestationRow:
    m = row._mapping
    return AttestationRow(**{k: m[k] for k in AttestationRow.__dataclass_fields__})


def get_attestation(conn: Connection, org_id: uuid.UUID, digest: str) -> AttestationRow | None:
    row = conn.execute(_summary().where(a.c.org_id == org_id, a.c.digest == digest)).first()
    return _attestation(row) if row else None


def get_attestations(
    conn: Connection, org_id: uuid.UUID, digests: list[str]
) -> dict[str, AttestationRow]:
    rows = conn.execute(_summary().where(a.c.org_id == org_id, a.c.digest.in_(set(digests))))
    return {row.digest: _attestation(row) for row in rows}


def get_content(conn: Connection, org_id: uuid.UUID, digest: str) -> bytes | None:
    value = conn.scalar(select(a.c.content).where(a.c.org_id == org_id, a.c.digest == digest))
    return bytes(value) if value is not None else None


def refs_of(conn: Connection, seq: int) -> list[Ref]:
    r = artifact_refs
    rows = conn.execute(
        select(r.c.digest, r.c.role, r.c.material_type, r.c.name)
        .where(r.c.attestation_seq == seq)
        .order_by(r.c.id)
    )
    return [Ref(row.digest, row.role, row.material_type, row.name) for row in rows]


def ensure_named(
    conn: Connection,
    org_id: uuid.UUID,
    *,
    project: str | None,
    version: str | None,
    workflow: str | None,
    now: dt.datetime,
    new_id: Any,
) -> tuple[uuid.UUID | None, uuid.UUID | None, uuid.UUID | None]:
    """Ids of the project, version and workflow an attestation names, created on first use."""
    project_id = version_id = workflow_id = None
    if project is not None:
        project_id = _get_or_insert(
            conn, projects, {"org_id": org_id, "name": project}, now, new_id
        )
        if version is not None:
            version_id = _get_or_insert(
                conn,
                project_versions,
                {"org_id": org_id, "project_id": project_id, "version": version},
                now,
                new_id,
            )
    if workflow is not None:
        workflow_id = _get_or_insert(
            conn,
            workflows,
            {"org_id": org_id, "project_name": project or "", "name": workflow},
            now,
            new_id,
            extra={"project_id": project_id},
        )
    return project_id, version_id, workflow_id


def _get_or_insert(
    conn: Connection,
    table: Table,
    key: dict[str, Any],
    now: dt.datetime,
    new_id: Any,
    extra: dict[str, Any] | None = None,
) -> uuid.UUID:
    where = [table.c[k] == v for k, v in key.items()]
    found = conn.scalar(select(table.c.id).where(*where))
    if found is None:
        # Two pushes naming a new project at once: the unique key lets one insert
        # win and the other find its row, instead of failing.
        statement: Any = (
            _dialect(conn)
            .insert(table)
            .values(id=new_id(), created_at=now, **key, **(extra or {}))
            .on_conflict_do_nothing(index_elements=list(key))
        )
        conn.execute(statement)
        found = conn.scalar(select(table.c.id).where(*where))
    return uuid.UUID(str(found))


def _dialect(conn: Connection) -> Any:
    """The dialect module whose insert() has on_conflict_do_nothing()."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql if conn.dialect.name == "postgresql" else sqlite


def insert_attestation(conn: Connection, values: dict[str, Any], refs: list[Ref]) -> int | None:
    """Store an attestation and its index entries; None if the org has those bytes already
    (a concurrent push of the same file: the unique key decides, without a lock)."""
    statement: Any = (
        _dialect(conn)
        .insert(a)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["org_id", "digest"])
        .returning(a.c.seq)
    )
    seq = conn.execute(statement).scalar()
    if seq is None:
        return None
    if refs:
        conn.execute(
            insert(artifact_refs),
            [
                {
                    "org_id": values["org_id"],
                    "digest": ref.digest,
                    "attestation_seq": seq,
                    "role": ref.role,
                    "material_type": ref.material_type,
                    "name": ref.name,
                }
                for ref in refs
            ],
        )
    return int(seq)


def attesting_types(conn: Connection, org_id: uuid.UUID, digest: str) -> dict[str, set[str | None]]:
    """role -> material types under which the org's attestations name `digest`."""
    r = artifact_refs
    rows = conn.execute(
        select(r.c.role, r.c.material_type)
        .where(r.c.org_id == org_id, r.c.digest == digest)
        .distinct()
    )
    found: dict[str, set[str | None]] = {}
    for row in rows:
        found.setdefault(row.role, set()).add(row.material_type)
    return found


_IS_ATTESTED = select(
    exists().where(
        artifact_refs.c.org_id == bindparam("org"),
        artifact_refs.c.digest == bindparam("digest"),
        artifact_refs.c.role.in_(ATTESTING_ROLES),
        or_(
            artifact_refs.c.material_type.is_(None),
            artifact_refs.c.material_type == bindparam("kind"),
        ),
    )
)


def is_attested(conn: Connection, org_id: uuid.UUID, digest: str, kind: str) -> bool:
    """A subject or typed material of a compatible kind (untyped subjects fit any kind)."""
    return bool(conn.scalar(_IS_ATTESTED, {"org": org_id, "digest": digest, "kind": kind}))


def refs_page(
    conn: Connection,
    org_id: uuid.UUID,
    digest: str,
    *,
    before: tuple[int, int] | None,
    limit: int,
) -> list[RefRow]:
    """The attestations naming `digest`, newest first, one row per role they give it.

    `before` is the keyset cursor: the (attestation seq, ref id) of the last row seen.
    """
    r = artifact_refs
    query = (
        _summary()
        .add_columns(
            r.c.id.label("ref_id"), r.c.role, r.c.material_type, r.c.name.label("ref_name")
        )
        .join(r, r.c.attestation_seq == a.c.seq)
        .where(r.c.org_id == org_id, r.c.digest == digest)
        .order_by(r.c.attestation_seq.desc(), r.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(tuple_(r.c.attestation_seq, r.c.id) < tuple_(*before))
    return [
        RefRow(_attestation(row), row.role, row.material_type, row.ref_name, row.ref_id)
        for row in conn.execute(query)
    ]


def list_attestations(
    conn: Connection,
    org_id: uuid.UUID,
    *,
    project: str | None,
    workflow: str | None,
    subject: str | None,
    before_seq: int | None,
    limit: int,
) -> list[AttestationRow]:
    query = _summary().where(a.c.org_id == org_id)
    if project is not None:
        query = query.where(projects.c.name == project)
    if workflow is not None:
        query = query.where(workflows.c.name == workflow)
    if subject is not None:
        r = artifact_refs
        query = query.where(
            exists().where(
                r.c.attestation_seq == a.c.seq,
                r.c.org_id == org_id,
                r.c.digest == subject,
                r.c.role.in_(ATTESTING_ROLES),
            )
        )
    if before_seq is not None:
        query = query.where(a.c.seq < before_seq)
    rows = conn.execute(query.order_by(a.c.seq.desc()).limit(limit))
    return [_attestation(row) for row in rows]


def project_filter(
    conn: Connection, org_id: uuid.UUID, project: str, version: str | None, digest_column: Any
) -> ColumnElement[bool] | None:
    """A condition on deployment records: their digest is attested in `project` (`version`).

    None when the project (or version) does not exist: nothing can match.
    """
    project_id = conn.scalar(
        select(projects.c.id).where(projects.c.org_id == org_id, projects.c.name == project)
    )
    if project_id is None:
        return None
    r = artifact_refs
    conditions = [
        r.c.org_id == org_id,
        r.c.digest == digest_column,
        r.c.role.in_(ATTESTING_ROLES),
        a.c.seq == r.c.attestation_seq,
        a.c.project_id == project_id,
    ]
    if version is not None:
        version_id = conn.scalar(
            select(project_versions.c.id).where(
                project_versions.c.project_id == project_id, project_versions.c.version == version
            )
        )
        if version_id is None:
            return None
        conditions.append(a.c.project_version_id == version_id)
    return exists().where(*conditions)


# Who stands behind a digest, kept as attestations arrive: an artifact attested
# ten thousand times has a handful of owners, and reading them must not cost ten
# thousand joined rows. "" stands for "not named", so the key has no NULLs and
# ON CONFLICT works the same on SQLite and PostgreSQL.
artifact_owners = Table(
    "artifact_owners",
    metadata,
    Column("org_id", Uuid, ForeignKey("organizations.id"), primary_key=True),
    Column("digest", String(255), primary_key=True),
    Column("workflow", String(255), primary_key=True),
    Column("project", String(255), primary_key=True),
    Column("project_version", String(255), primary_key=True),
)


def add_owners(
    conn: Connection,
    org_id: uuid.UUID,
    digests: set[str],
    *,
    workflow: str | None,
    project: str | None,
    version: str | None,
) -> None:
    if not digests or not (workflow or project or version):
        return
    statement: Any = _dialect(conn).insert(artifact_owners).on_conflict_do_nothing()
    conn.execute(
        statement,
        [
            {
                "org_id": org_id,
                "digest": digest,
                "workflow": workflow or "",
                "project": project or "",
                "project_version": version or "",
            }
            for digest in sorted(digests)
        ],
    )


def owners(
    conn: Connection, org_id: uuid.UUID, digest: str, limit: int
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Distinct workflows, projects and (project, version) pairs behind `digest`,
    each list sorted and cut at `limit` on its own."""
    o = artifact_owners
    mine = (o.c.org_id == org_id, o.c.digest == digest)

    def distinct(*columns: Any) -> list[Any]:
        named = [c != "" for c in columns]
        query = select(*columns).where(*mine, *named).distinct().order_by(*columns).limit(limit)
        return [tuple(row) if len(columns) > 1 else row[0] for row in conn.execute(query)]

    return (
        distinct(o.c.workflow),
        distinct(o.c.project),
        distinct(o.c.project, o.c.project_version),
    )


# Trust material -----------------------------------------------------------------


@dataclass(frozen=True)
class TrustRow:
    name: str
    kind: str
    content: bytes
    fingerprint: str
    created_at: dt.datetime


def list_trust(conn: Connection, org_id: uuid.UUID) -> list[TrustRow]:
    t = trust_material
    rows = conn.execute(
        select(t.c.name, t.c.kind, t.c.content, t.c.fingerprint, t.c.created_at)
        .where(t.c.org_id == org_id)
        .order_by(t.c.name)
    )
    return [TrustRow(r.name, r.kind, bytes(r.content), r.fingerprint, r.created_at) for r in rows]


def insert_trust(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(trust_material).values(**values))


def delete_trust(conn: Connection, org_id: uuid.UUID, name: str) -> bool:
    t = trust_material
    result = conn.execute(delete(t).where(t.c.org_id == org_id, t.c.name == name))
    return bool(result.rowcount)


def attested_among(conn: Connection, org_id: uuid.UUID, digests: list[str], kind: str) -> set[str]:
    """Which of `digests` are attested for `kind` (`is_attested` for many at once)."""
    r = artifact_refs
    found: set[str] = set()
    unique = sorted(set(digests))
    for i in range(0, len(unique), 500):
        query = (
            select(r.c.digest)
            .where(
                r.c.org_id == org_id,
                r.c.digest.in_(unique[i : i + 500]),
                r.c.role.in_(ATTESTING_ROLES),
                or_(r.c.material_type.is_(None), r.c.material_type == kind),
            )
            .distinct()
        )
        found.update(conn.scalars(query))
    return found
