"""Attestations: stored byte-exact, content-addressed per organization, with the verdict
on their signatures at push time.

Lists read `subjects_head` (the first few subjects) and `subjects_count`, never
the full `subjects`: one attestation may name tens of thousands of artifacts,
and a page of fifty such must not carry them all.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
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
    Integer,
    LargeBinary,
    Row,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    select,
    text,
)

from deploytrace.storage.base import BigSerial, UTCDateTime, insert_ignoring_conflicts, metadata
from deploytrace.storage.projects import project_versions, projects, workflows

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
    Column("subjects_count", Integer, nullable=False, server_default=text("0")),
    Column("subjects_head", JSON, nullable=False, server_default=text("'[]'")),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("workflow_id", Uuid, ForeignKey("workflows.id")),
    Column("project_id", Uuid, ForeignKey("projects.id")),
    Column("project_version_id", Uuid, ForeignKey("project_versions.id")),
    Column("verification_status", String(16), nullable=False),
    Column("verification_method", String(64)),
    Column("verification_identity", Text),
    # The sha256 of the trusted key that verified it, as it was at push time: a
    # key removed and re-added under the same name is another key.
    Column("verification_key_fingerprint", String(71)),
    Column("verification_reason", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(63)),
    Column("built_at", UTCDateTime),  # the build finish it states (SPEC §8 lead time)
    UniqueConstraint("org_id", "digest"),
    Index("ix_attestations_org_id_seq", "org_id", "seq"),
    Index("ix_attestations_org_id_project_id_seq", "org_id", "project_id", "seq"),
    Index("ix_attestations_org_id_workflow_id_seq", "org_id", "workflow_id", "seq"),
)


@dataclass(frozen=True)
class AttestationRow:
    """An attestation without its bytes, and only its first subjects (`subjects_head`)."""

    seq: int
    digest: str
    format: str
    media_type: str | None
    statement_type: str | None
    predicate_type: str
    subjects_head: list[dict[str, Any]]
    subjects_count: int
    size: int
    workflow: str | None
    project: str | None
    project_version: str | None
    verification_status: str
    verification_method: str | None
    verification_identity: str | None
    verification_key_fingerprint: str | None
    verification_reason: str | None
    created_at: dt.datetime
    created_by: str | None


a = attestations
_SUMMARY_COLUMNS = (
    a.c.seq,
    a.c.digest,
    a.c.format,
    a.c.media_type,
    a.c.statement_type,
    a.c.predicate_type,
    a.c.subjects_head,
    a.c.subjects_count,
    a.c.size,
    workflows.c.name.label("workflow"),
    projects.c.name.label("project"),
    project_versions.c.version.label("project_version"),
    a.c.verification_status,
    a.c.verification_method,
    a.c.verification_identity,
    a.c.verification_key_fingerprint,
    a.c.verification_reason,
    a.c.created_at,
    a.c.created_by,
)


def summary_query() -> Select[Any]:
    """SELECT of what `row_of` reads, with the names attestations are filed under."""
    return (
        select(*_SUMMARY_COLUMNS)
        .outerjoin(workflows, workflows.c.id == a.c.workflow_id)
        .outerjoin(projects, projects.c.id == a.c.project_id)
        .outerjoin(project_versions, project_versions.c.id == a.c.project_version_id)
    )


def row_of(row: Row[Any]) -> AttestationRow:
    m = row._mapping
    return AttestationRow(**{k: m[k] for k in AttestationRow.__dataclass_fields__})


def get_attestation(conn: Connection, org_id: uuid.UUID, digest: str) -> AttestationRow | None:
    row = conn.execute(summary_query().where(a.c.org_id == org_id, a.c.digest == digest)).first()
    return row_of(row) if row else None


def get_attestations(
    conn: Connection, org_id: uuid.UUID, digests: Sequence[str]
) -> dict[str, AttestationRow]:
    rows = conn.execute(summary_query().where(a.c.org_id == org_id, a.c.digest.in_(set(digests))))
    return {row.digest: row_of(row) for row in rows}


def get_subjects(conn: Connection, seq: int) -> list[dict[str, Any]]:
    """Every subject of the attestation, as its statement has them."""
    subjects: list[dict[str, Any]] = conn.scalar(select(a.c.subjects).where(a.c.seq == seq)) or []
    return subjects


def get_content(conn: Connection, org_id: uuid.UUID, digest: str) -> bytes | None:
    value = conn.scalar(select(a.c.content).where(a.c.org_id == org_id, a.c.digest == digest))
    return bytes(value) if value is not None else None


def insert_attestation(conn: Connection, values: dict[str, Any]) -> int | None:
    """Store an attestation; its seq, or None if the org has those bytes already
    (a concurrent push of the same file: the unique key decides, without a lock)."""
    statement = (
        insert_ignoring_conflicts(conn, a)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["org_id", "digest"])
        .returning(a.c.seq)
    )
    seq = conn.execute(statement).scalar()
    return None if seq is None else int(seq)


def list_attestations(
    conn: Connection,
    org_id: uuid.UUID,
    *,
    project: str | None,
    workflow: str | None,
    where: Sequence[ColumnElement[bool]] = (),
    before_seq: int | None,
    limit: int,
) -> list[AttestationRow]:
    """Newest first; `where` adds conditions on `attestations` (e.g. what it names)."""
    query = summary_query().where(a.c.org_id == org_id, *where)
    if project is not None:
        query = query.where(projects.c.name == project)
    if workflow is not None:
        query = query.where(workflows.c.name == workflow)
    if before_seq is not None:
        query = query.where(a.c.seq < before_seq)
    rows = conn.execute(query.order_by(a.c.seq.desc()).limit(limit))
    return [row_of(row) for row in rows]


def digests_with_prefix(conn: Connection, org_id: uuid.UUID, prefix: str) -> list[str]:
    """The org's attestation digests starting with `prefix` (a few at most)."""
    a = attestations
    query = (
        select(a.c.digest)
        .where(
            a.c.org_id == org_id,
            a.c.digest >= prefix,
            a.c.digest < prefix + "g",  # hex digits sort before "g"
            a.c.digest.like(prefix + "%"),
        )
        .limit(6)
    )
    return list(conn.scalars(query))
