"""Contents index: components, vulnerability findings and VEX statements per artifact,
and each attestation's indexing state.

Attestations stored before this revision have no state row: `deploytrace db
reindex` indexes them (parsing stored bytes is Python work that does not
belong in a schema migration).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deploytrace.storage.base import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_PENDING = "state = 'pending'"


def _key_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("purl_name", sa.String(255), nullable=False),
        sa.Column("purl_type", sa.String(64), nullable=False),
        sa.Column("purl_namespace", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255)),
    ]


def _seq() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "attestation_seq", sa.BigInteger, sa.ForeignKey("attestations.seq"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "contents_components",
        sa.Column("org_id", sa.Uuid, nullable=False),
        sa.Column("artifact_digest", sa.String(255), nullable=False),
        _seq(),
        *_key_columns(),
        sa.Column("purl", sa.Text),
        sa.Column("name", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_contents_components_key",
        "contents_components",
        ["org_id", "purl_name", "artifact_digest", "purl_type", "purl_namespace", "version"],
    )
    op.create_index(
        "ix_contents_components_version",
        "contents_components",
        ["org_id", "purl_name", "version", "artifact_digest"],
    )
    op.create_index(
        "ix_contents_components_org_id_artifact_digest",
        "contents_components",
        ["org_id", "artifact_digest"],
    )
    op.create_index(
        "ix_contents_components_attestation_seq", "contents_components", ["attestation_seq"]
    )
    op.create_table(
        "contents_findings",
        sa.Column("org_id", sa.Uuid, nullable=False),
        sa.Column("artifact_digest", sa.String(255), nullable=False),
        _seq(),
        sa.Column("vuln_id", sa.String(255), nullable=False),
        sa.Column("vulnerability", sa.String(255), nullable=False),
        sa.Column("severity", sa.String(16)),
        *_key_columns(),
        sa.Column("purl", sa.Text),
        sa.Column("name", sa.Text),
    )
    op.create_index(
        "ix_contents_findings_key",
        "contents_findings",
        [
            "org_id",
            "vuln_id",
            "artifact_digest",
            "purl_name",
            "purl_type",
            "purl_namespace",
            "version",
        ],
    )
    op.create_index(
        "ix_contents_findings_org_id_artifact_digest",
        "contents_findings",
        ["org_id", "artifact_digest"],
    )
    op.create_index(
        "ix_contents_findings_attestation_seq", "contents_findings", ["attestation_seq"]
    )
    op.create_table(
        "contents_vex",
        sa.Column("org_id", sa.Uuid, nullable=False),
        sa.Column("product_digest", sa.String(255), nullable=False),
        sa.Column("vuln_id", sa.String(255), nullable=False),
        _seq(),
        sa.Column("status", sa.String(24), nullable=False),
        *_key_columns(),
        sa.Column("stated_at", UTCDateTime),
        sa.Column("justification", sa.Text),
    )
    op.create_index("ix_contents_vex_key", "contents_vex", ["org_id", "product_digest", "vuln_id"])
    op.create_index("ix_contents_vex_attestation_seq", "contents_vex", ["attestation_seq"])
    op.create_index(
        "ix_deployment_records_active_org_digest",
        "deployment_records",
        ["org_id", "artifact_digest"],
        postgresql_where=sa.text("status = 'deployed'"),
        sqlite_where=sa.text("status = 'deployed'"),
    )
    op.create_table(
        "attestation_contents",
        sa.Column(
            "attestation_seq", sa.BigInteger, sa.ForeignKey("attestations.seq"), nullable=False
        ),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("formats", sa.String(255), nullable=False),
        sa.Column("components", sa.Integer, nullable=False),
        sa.Column("findings", sa.Integer, nullable=False),
        sa.Column("statements", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("chunks_done", sa.Integer, nullable=False),
        sa.Column("token", sa.Uuid),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("attestation_seq", name="pk_attestation_contents"),
    )
    op.create_index(
        "ix_attestation_contents_pending",
        "attestation_contents",
        ["attestation_seq"],
        postgresql_where=sa.text(_PENDING),
        sqlite_where=sa.text(_PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_deployment_records_active_org_digest", table_name="deployment_records")
    op.drop_table("attestation_contents")
    op.drop_table("contents_vex")
    op.drop_table("contents_findings")
    op.drop_table("contents_components")
