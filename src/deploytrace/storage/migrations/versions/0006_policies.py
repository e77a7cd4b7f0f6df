"""Policies: versions kept, attachments per logical environment (and optionally environment).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deploytrace.storage.base import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("deleted_at", UTCDateTime),
        sa.UniqueConstraint("org_id", "name", name="uq_policies_org_id_name"),
    )
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("policy_id", sa.Uuid, sa.ForeignKey("policies.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("entries", sa.JSON, nullable=False),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(63)),
        sa.UniqueConstraint("policy_id", "version", name="uq_policy_versions_policy_id_version"),
    )
    op.create_table(
        "policy_attachments",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("policy_id", sa.Uuid, sa.ForeignKey("policies.id"), nullable=False),
        sa.Column(
            "logical_environment_id",
            sa.Uuid,
            sa.ForeignKey("logical_environments.id"),
            nullable=False,
        ),
        sa.Column("environment_id", sa.Uuid, sa.ForeignKey("environments.id")),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(63)),
        sa.CheckConstraint("mode IN ('enforce', 'advisory')", name="ck_policy_attachments_mode"),
    )
    op.create_index(
        "uq_policy_attachments_all_environments",
        "policy_attachments",
        ["policy_id", "logical_environment_id"],
        unique=True,
        postgresql_where=sa.text("environment_id IS NULL"),
        sqlite_where=sa.text("environment_id IS NULL"),
    )
    op.create_index(
        "uq_policy_attachments_one_environment",
        "policy_attachments",
        ["policy_id", "logical_environment_id", "environment_id"],
        unique=True,
        postgresql_where=sa.text("environment_id IS NOT NULL"),
        sqlite_where=sa.text("environment_id IS NOT NULL"),
    )
    op.create_index(
        "ix_policy_attachments_org_id_logical_environment_id",
        "policy_attachments",
        ["org_id", "logical_environment_id"],
    )


def downgrade() -> None:
    op.drop_table("policy_attachments")
    op.drop_table("policy_versions")
    op.drop_table("policies")
