"""Audit log: per-org hash chains.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deploytrace.storage.base import BigSerial, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    heads = op.create_table(
        "audit_heads",
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_entries",
        sa.Column("seq", BigSerial, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(63), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("org_id", "position", name="uq_audit_entries_org_id_position"),
    )
    op.create_index(
        "ix_audit_entries_org_id_action_position", "audit_entries", ["org_id", "action", "position"]
    )
    op.create_index("ix_audit_entries_org_id_created_at", "audit_entries", ["org_id", "created_at"])
    # Organizations created before the audit log start an empty chain.
    orgs = sa.table("organizations", sa.column("id", sa.Uuid))
    conn = op.get_bind()
    rows = [
        {"org_id": r.id, "position": 0, "hash": GENESIS} for r in conn.execute(sa.select(orgs.c.id))
    ]
    if rows:
        op.bulk_insert(heads, rows)


def downgrade() -> None:
    op.drop_table("audit_entries")
    op.drop_table("audit_heads")
