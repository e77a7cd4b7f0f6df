"""Room for heartbeats in place: `deployment_records` pages keep 30% free (PostgreSQL).

A heartbeat (a record request or a snapshot sync re-reporting what runs) changes only
`last_seen_at`, `updated_at`, `heartbeats` and `scope`, none of them indexed. With free
room on the row's page PostgreSQL writes the new row version there as a heap-only tuple
and touches none of the table's sixteen indexes; on a full page (fillfactor 100, the
default) it must add an entry to every one of them. Applies to pages written from now
on (`VACUUM FULL` rewrites old ones). SQLite has no such setting.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

FILLFACTOR = 70


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE deployment_records SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deployment_records RESET (fillfactor)")
