"""Artifact owners: the distinct workflows, projects and versions behind each digest.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifact_owners",
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("digest", sa.String(255), nullable=False),
        sa.Column("workflow", sa.String(255), nullable=False),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("project_version", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id", "digest", "workflow", "project", "project_version", name="pk_artifact_owners"
        ),
    )
    # Owners of what is stored already.
    op.execute(
        """
        INSERT INTO artifact_owners (org_id, digest, workflow, project, project_version)
        SELECT DISTINCT r.org_id, r.digest, COALESCE(w.name, ''), COALESCE(p.name, ''),
               COALESCE(v.version, '')
        FROM artifact_refs r
        JOIN attestations a ON a.seq = r.attestation_seq
        LEFT JOIN workflows w ON w.id = a.workflow_id
        LEFT JOIN projects p ON p.id = a.project_id
        LEFT JOIN project_versions v ON v.id = a.project_version_id
        WHERE r.role IN ('subject', 'material')
          AND (w.name IS NOT NULL OR p.name IS NOT NULL OR v.version IS NOT NULL)
        """
    )


def downgrade() -> None:
    op.drop_table("artifact_owners")
