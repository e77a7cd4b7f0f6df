"""Round 2 core: slots, time-ordered lists, why records ended, staleness, promotion order,
who reported, policy verdicts, and inventory snapshots.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deploytrace.storage.base import BigSerial, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIVE = "status = 'deployed'"
SLOT = ["org_id", "environment_id", "logical_environment_id", "deployment_name", "kind"]
BUILT_IN_ORDER = {"development": 1, "staging": 2, "production": 3}


def upgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.add_column(sa.Column("stale_after_seconds", sa.Integer))
    with op.batch_alter_table("logical_environments") as batch:
        batch.add_column(sa.Column("position", sa.Integer))
    for name, position in BUILT_IN_ORDER.items():
        op.execute(
            sa.text(
                "UPDATE logical_environments SET position = :p "
                "WHERE name = :n AND deleted_at IS NULL"
            ).bindparams(p=position, n=name)
        )

    op.create_table(
        "deployment_slots",
        sa.Column("id", BigSerial, primary_key=True, autoincrement=True),
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
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint(
            *SLOT,
            name="uq_deployment_slots_slot",
        ),
    )
    columns = ", ".join(SLOT)
    op.execute(
        f"INSERT INTO deployment_slots ({columns}, created_at) "
        f"SELECT {columns}, MIN(created_at) FROM deployment_records GROUP BY {columns}"
    )

    for name in ("org_seq", "org_env_seq", "org_lenv_seq", "org_env_lenv_seq", "org_name_seq"):
        op.drop_index(f"ix_deployment_records_{name}", table_name="deployment_records")
    for name in ("org_digest_seq", "slot_seq"):
        op.drop_index(f"ix_deployment_records_{name}", table_name="deployment_records")
    for name in ("active_org_seq", "active_org_lenv_seq", "active_org_env_seq"):
        op.drop_index(f"ix_deployment_records_{name}", table_name="deployment_records")

    with op.batch_alter_table("deployment_records") as batch:
        batch.add_column(sa.Column("slot_id", sa.BigInteger))
        batch.add_column(sa.Column("ended_reason", sa.String(16)))
        batch.add_column(sa.Column("scope", sa.String(255)))
        batch.add_column(sa.Column("reported_ci", sa.JSON))
        batch.add_column(sa.Column("promotion_skipped", sa.String(63)))
        batch.add_column(sa.Column("policy", sa.JSON))
    match = " AND ".join(f"s.{c} = deployment_records.{c}" for c in SLOT)
    op.execute(
        f"UPDATE deployment_records SET slot_id = "
        f"(SELECT s.id FROM deployment_slots s WHERE {match})"
    )
    op.execute("UPDATE deployment_records SET ended_reason = status WHERE status <> 'deployed'")
    with op.batch_alter_table("deployment_records") as batch:
        batch.alter_column("slot_id", existing_type=sa.BigInteger, nullable=False)
        batch.create_foreign_key(
            "fk_deployment_records_slot_id_deployment_slots",
            "deployment_slots",
            ["slot_id"],
            ["id"],
        )
        batch.create_check_constraint(
            "ck_deployment_records_ended_reason",
            "ended_reason IS NULL OR ended_reason IN "
            "('superseded', 'decommissioned', 'absent', 'replaced')",
        )

    indexes = {
        "slot_id_created_at_seq": ["slot_id", "created_at", "seq"],
        "org_created": ["org_id", "created_at", "seq"],
        "org_env_created": ["org_id", "environment_id", "created_at", "seq"],
        "org_lenv_created": ["org_id", "logical_environment_id", "created_at", "seq"],
        "org_env_lenv_created": [
            "org_id",
            "environment_id",
            "logical_environment_id",
            "created_at",
            "seq",
        ],
        "org_name_created": ["org_id", "deployment_name", "created_at", "seq"],
        "org_digest_created": ["org_id", "artifact_digest", "created_at", "seq"],
        "org_ended": ["org_id", "ended_at"],
    }
    for name, cols in indexes.items():
        op.create_index(f"ix_deployment_records_{name}", "deployment_records", cols)
    partial = {
        "active_org_created": (["org_id", "created_at", "seq"], ACTIVE),
        "active_org_lenv_created": (
            ["org_id", "logical_environment_id", "created_at", "seq"],
            ACTIVE,
        ),
        "active_org_env_created": (["org_id", "environment_id", "created_at", "seq"], ACTIVE),
        "skipped_org_created": (
            ["org_id", "created_at", "seq"],
            "promotion_skipped IS NOT NULL",
        ),
    }
    for name, (cols, where) in partial.items():
        op.create_index(
            f"ix_deployment_records_{name}",
            "deployment_records",
            cols,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )

    op.create_table(
        "sync_scopes",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("environment_id", sa.Uuid, sa.ForeignKey("environments.id"), nullable=False),
        sa.Column(
            "logical_environment_id",
            sa.Uuid,
            sa.ForeignKey("logical_environments.id"),
            nullable=False,
        ),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("snapshot_id", sa.Uuid, nullable=False),
        sa.Column("observed_at", UTCDateTime, nullable=False),
        sa.Column("applied_at", UTCDateTime, nullable=False),
        sa.Column("reported_by", sa.String(63)),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.UniqueConstraint(
            "org_id",
            "environment_id",
            "logical_environment_id",
            "scope",
            name="uq_sync_scopes_scope",
        ),
    )
    op.create_table(
        "unattested_workloads",
        sa.Column("seq", BigSerial, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("environment_id", sa.Uuid, sa.ForeignKey("environments.id"), nullable=False),
        sa.Column(
            "logical_environment_id",
            sa.Uuid,
            sa.ForeignKey("logical_environments.id"),
            nullable=False,
        ),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("deployment_name", sa.String(253), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(135)),
        sa.Column("artifact_name", sa.String(512)),
        sa.Column("artifact_version", sa.String(256)),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint(
            "org_id",
            "environment_id",
            "logical_environment_id",
            "scope",
            "deployment_name",
            "kind",
            name="uq_unattested_workloads_workload",
        ),
    )
    op.create_index("ix_unattested_workloads_org_id_seq", "unattested_workloads", ["org_id", "seq"])


def downgrade() -> None:
    raise NotImplementedError("deploytrace migrations are forward-only")
