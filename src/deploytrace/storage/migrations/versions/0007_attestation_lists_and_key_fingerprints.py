"""Attestation lists carry a subject count and the first subjects; verdicts keep the key's fingerprint.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

HEAD = 3  # services.attestations.LIST_SUBJECTS when this migration was written
BATCH = 500


def upgrade() -> None:
    op.add_column(
        "attestations",
        sa.Column("subjects_count", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.add_column(
        "attestations",
        sa.Column("subjects_head", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
    )
    # Null for verdicts given before this revision: which key (by content) verified
    # them is unknown, so they no longer satisfy `push --key` without a new check.
    op.add_column("attestations", sa.Column("verification_key_fingerprint", sa.String(71)))
    _backfill_subjects()


def _backfill_subjects() -> None:
    conn = op.get_bind()
    table = sa.table(
        "attestations",
        sa.column("seq", sa.BigInteger),
        sa.column("subjects", sa.JSON),
        sa.column("subjects_count", sa.Integer),
        sa.column("subjects_head", sa.JSON),
    )
    after = None
    while True:
        query = sa.select(table.c.seq, table.c.subjects).order_by(table.c.seq).limit(BATCH)
        if after is not None:
            query = query.where(table.c.seq > after)
        rows = conn.execute(query).all()
        if not rows:
            return
        for seq, stored in rows:
            # A driver may hand JSON back as text.
            subjects = (json.loads(stored) if isinstance(stored, str) else stored) or []
            conn.execute(
                table.update()
                .where(table.c.seq == seq)
                .values(subjects_count=len(subjects), subjects_head=subjects[:HEAD])
            )
        after = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("attestations") as batch:
        batch.drop_column("verification_key_fingerprint")
        batch.drop_column("subjects_head")
        batch.drop_column("subjects_count")
