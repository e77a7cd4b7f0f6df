"""Insight (SPEC §8): when each attestation's build finished, and a slot's history by digest.

- `attestations.built_at`: the build finish the attestation states (SLSA provenance
  `finishedOn` / `buildFinishedOn`, Chainloop `finishedAt`); NULL when it states none,
  and DORA's lead time then starts when it was pushed (`created_at`). Existing rows are
  backfilled by reading their stored bytes (only predicate types that can carry a time).
- `ix_deployment_records_slot_id_artifact_digest_created_at_seq`: "when did this slot
  last run digest D" and "did this slot ever run D before" (diff's `behind`, DORA's
  rollbacks) as one index probe, however long the slot's history.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from deploytrace.storage.base import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
_BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("attestations") as batch:
        batch.add_column(sa.Column("built_at", UTCDateTime))
    op.create_index(
        "ix_deployment_records_slot_id_artifact_digest_created_at_seq",
        "deployment_records",
        ["slot_id", "artifact_digest", "created_at", "seq"],
    )
    _backfill_built_at()


def _backfill_built_at() -> None:
    """Read the build finish out of every stored attestation that may state one."""
    from deploytrace.attestations import parse
    from deploytrace.attestations.times import built_at
    from deploytrace.errors import InvalidInput

    conn = op.get_bind()
    attestations = sa.table(
        "attestations",
        sa.column("seq", sa.BigInteger),
        sa.column("predicate_type", sa.String),
        sa.column("content", sa.LargeBinary),
        sa.column("built_at", UTCDateTime),
    )
    a = attestations.c
    typed = sa.or_(
        a.predicate_type.like("https://slsa.dev/provenance/%"),
        a.predicate_type.like("chainloop.dev/attestation/%"),
    )
    update = (
        sa.update(attestations)
        .where(a.seq == sa.bindparam("seq_"))
        .values(built_at=sa.bindparam("built_", type_=UTCDateTime))
    )
    last, found = 0, 0
    while True:
        rows = conn.execute(
            sa.select(a.seq, a.content).where(typed, a.seq > last).order_by(a.seq).limit(_BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].seq
        times = []
        for row in rows:
            try:
                parsed = parse(bytes(row.content))
            except (InvalidInput, ValueError, RecursionError):
                continue  # stored by an older, laxer parser: keep the pushed time
            when = built_at(parsed[0].statement) if len(parsed) == 1 else None
            if when is not None:
                times.append({"seq_": row.seq, "built_": when})
        if times:
            conn.execute(update, times)
            found += len(times)
    if found:
        log.info("attestations: build finish times read from %d stored attestations", found)


def downgrade() -> None:
    raise NotImplementedError("deploytrace migrations are forward-only")
