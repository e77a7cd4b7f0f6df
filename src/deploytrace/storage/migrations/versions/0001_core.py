"""Core: organizations, API tokens, environments, logical environments, deployment records.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deploytrace.storage.base import BigSerial, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ACTIVE = "status = 'deployed'"


def _env_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.String(1024), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("deleted_at", UTCDateTime),
    )
    op.create_index(
        f"uq_{name}_org_id_name_live",
        name,
        ["org_id", "name"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
        sqlite_where=sa.text("deleted_at IS NULL"),
    )


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_organizations_name"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime),
        sa.Column("revoked_at", UTCDateTime),
        sa.Column("last_used_at", UTCDateTime),
        sa.Column("created_by", sa.String(63)),
    )
    op.create_index(
        "uq_api_tokens_org_id_name_live",
        "api_tokens",
        ["org_id", "name"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
        sqlite_where=sa.text("revoked_at IS NULL"),
    )
    op.create_index("ix_api_tokens_org_id_created_at", "api_tokens", ["org_id", "created_at"])
    _env_table("environments")
    _env_table("logical_environments")
    op.create_table(
        "deployment_records",
        sa.Column("seq", BigSerial, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("environment_id", sa.Uuid, sa.ForeignKey("environments.id"), nullable=False),
        sa.Column(
            "logical_environment_id",
            sa.Uuid,
            sa.ForeignKey("logical_environments.id"),
            nullable=False,
        ),
        sa.Column("deployment_name", sa.String(253), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("artifact_digest", sa.String(135), nullable=False),
        sa.Column("artifact_name", sa.String(512)),
        sa.Column("artifact_version", sa.String(256)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime),
        sa.Column("superseded_by", sa.Uuid),
        sa.Column("heartbeats", sa.Integer, nullable=False, server_default="0"),
        sa.Column("recorded_by", sa.String(63)),
        sa.UniqueConstraint("id", name="uq_deployment_records_id"),
        sa.CheckConstraint(
            "status IN ('deployed', 'superseded', 'decommissioned')",
            name="ck_deployment_records_status",
        ),
        sa.CheckConstraint(
            "kind IN ('CONTAINER_IMAGE', 'HELM_CHART')", name="ck_deployment_records_kind"
        ),
    )
    slot = ["org_id", "environment_id", "logical_environment_id", "deployment_name", "kind"]
    op.create_index(
        "uq_deployment_records_active_slot",
        "deployment_records",
        slot,
        unique=True,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )
    op.create_index("ix_deployment_records_slot_seq", "deployment_records", [*slot, "seq"])
    for name, columns in {
        "org_seq": ["org_id", "seq"],
        "org_env_seq": ["org_id", "environment_id", "seq"],
        "org_lenv_seq": ["org_id", "logical_environment_id", "seq"],
        "org_env_lenv_seq": ["org_id", "environment_id", "logical_environment_id", "seq"],
        "org_name_seq": ["org_id", "deployment_name", "seq"],
        "org_digest_seq": ["org_id", "artifact_digest", "seq"],
    }.items():
        op.create_index(f"ix_deployment_records_{name}", "deployment_records", columns)
    for name, columns in {
        "active_org_seq": ["org_id", "seq"],
        "active_org_lenv_seq": ["org_id", "logical_environment_id", "seq"],
        "active_org_env_seq": ["org_id", "environment_id", "seq"],
    }.items():
        op.create_index(
            f"ix_deployment_records_{name}",
            "deployment_records",
            columns,
            postgresql_where=sa.text(ACTIVE),
            sqlite_where=sa.text(ACTIVE),
        )


def downgrade() -> None:
    op.drop_table("deployment_records")
    op.drop_table("logical_environments")
    op.drop_table("environments")
    op.drop_table("api_tokens")
    op.drop_table("organizations")
