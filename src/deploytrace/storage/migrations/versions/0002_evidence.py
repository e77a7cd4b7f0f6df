"""Evidence store: attestations, the artifact-digest index, projects, versions,
workflows and trust material.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from deploytrace.storage.base import BigSerial, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _org() -> sa.Column[uuid.UUID]:
    return sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Uuid, primary_key=True),
        _org(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("org_id", "name", name="uq_projects_org_id_name"),
    )
    op.create_table(
        "project_versions",
        sa.Column("id", sa.Uuid, primary_key=True),
        _org(),
        sa.Column("project_id", sa.Uuid, sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint(
            "org_id", "project_id", "version", name="uq_project_versions_org_id_project_id_version"
        ),
    )
    op.create_table(
        "workflows",
        sa.Column("id", sa.Uuid, primary_key=True),
        _org(),
        sa.Column("project_name", sa.String(255), nullable=False),
        sa.Column("project_id", sa.Uuid, sa.ForeignKey("projects.id")),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint(
            "org_id", "project_name", "name", name="uq_workflows_org_id_project_name_name"
        ),
    )
    op.create_table(
        "attestations",
        sa.Column("seq", BigSerial, primary_key=True, autoincrement=True),
        _org(),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("media_type", sa.String(255)),
        sa.Column("statement_type", sa.String(255)),
        sa.Column("predicate_type", sa.String(1024), nullable=False),
        sa.Column("subjects", sa.JSON, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("workflow_id", sa.Uuid, sa.ForeignKey("workflows.id")),
        sa.Column("project_id", sa.Uuid, sa.ForeignKey("projects.id")),
        sa.Column("project_version_id", sa.Uuid, sa.ForeignKey("project_versions.id")),
        sa.Column("verification_status", sa.String(16), nullable=False),
        sa.Column("verification_method", sa.String(64)),
        sa.Column("verification_identity", sa.Text),
        sa.Column("verification_reason", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(63)),
        sa.UniqueConstraint("org_id", "digest", name="uq_attestations_org_id_digest"),
    )
    op.create_index("ix_attestations_org_id_seq", "attestations", ["org_id", "seq"])
    op.create_index(
        "ix_attestations_org_id_project_id_seq", "attestations", ["org_id", "project_id", "seq"]
    )
    op.create_index(
        "ix_attestations_org_id_workflow_id_seq", "attestations", ["org_id", "workflow_id", "seq"]
    )
    op.create_table(
        "artifact_refs",
        sa.Column("id", BigSerial, primary_key=True, autoincrement=True),
        _org(),
        sa.Column("digest", sa.String(255), nullable=False),
        sa.Column(
            "attestation_seq", sa.BigInteger, sa.ForeignKey("attestations.seq"), nullable=False
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("material_type", sa.String(64)),
        sa.Column("name", sa.Text),
    )
    op.create_index(
        "ix_artifact_refs_org_id_digest_attestation_seq_id",
        "artifact_refs",
        ["org_id", "digest", "attestation_seq", "id"],
    )
    op.create_index("ix_artifact_refs_attestation_seq", "artifact_refs", ["attestation_seq"])
    op.create_table(
        "trust_material",
        sa.Column("id", sa.Uuid, primary_key=True),
        _org(),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("fingerprint", sa.String(71), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("org_id", "name", name="uq_trust_material_org_id_name"),
    )


def downgrade() -> None:
    for table in (
        "trust_material",
        "artifact_refs",
        "attestations",
        "workflows",
        "project_versions",
        "projects",
    ):
        op.drop_table(table)
