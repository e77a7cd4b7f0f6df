"""Events out: webhooks, the outbox (events, deliveries, attempts, cursors), stale notices.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28

The stale check reads `environments.stale_after_seconds` (added by 0005).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deploytrace.storage.base import BigSerial, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_PENDING = "state = 'pending'"

# Each event goes to every webhook subscribed to it, one delivery each, in event order.
_PG_FAN_OUT_FUNCTION = r"""
CREATE OR REPLACE FUNCTION deploytrace_events_fan_out() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries
        (org_id, webhook_id, event_seq, ordering_key, state, attempts, next_attempt_at,
         created_at)
    SELECT DISTINCT ON (ev.seq, s.webhook_id)
           ev.org_id, s.webhook_id, ev.seq, ev.ordering_key, 'pending', 0, ev.created_at,
           ev.created_at
    FROM new_events ev
    JOIN webhook_subscriptions s
      ON s.org_id = ev.org_id AND ev.type LIKE s.pattern ESCAPE '\'
    WHERE ev.webhook_id IS NULL
    ORDER BY ev.seq, s.webhook_id;
    RETURN NULL;
END
$$
"""
_PG_FAN_OUT_TRIGGER = """
CREATE TRIGGER events_fan_out AFTER INSERT ON events
REFERENCING NEW TABLE AS new_events
FOR EACH STATEMENT EXECUTE FUNCTION deploytrace_events_fan_out()
"""

# SQLite has row-level triggers only: the same rule, row by row.
_SQLITE_FAN_OUT_TRIGGER = r"""
CREATE TRIGGER events_fan_out AFTER INSERT ON events
WHEN NEW.webhook_id IS NULL
BEGIN
    INSERT INTO webhook_deliveries
        (org_id, webhook_id, event_seq, ordering_key, state, attempts, next_attempt_at,
         created_at)
    SELECT DISTINCT NEW.org_id, s.webhook_id, NEW.seq, NEW.ordering_key, 'pending', 0,
           NEW.created_at, NEW.created_at
    FROM webhook_subscriptions s
    WHERE s.org_id = NEW.org_id AND NEW.type LIKE s.pattern ESCAPE '\'
    ORDER BY s.webhook_id;
END
"""


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("secret_sealed", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(63), nullable=False),
        sa.Column("removed_at", UTCDateTime),
    )
    op.create_index("ix_webhooks_org_id_created_at", "webhooks", ["org_id", "created_at"])
    op.create_table(
        "webhook_subscriptions",
        sa.Column("webhook_id", sa.Uuid, sa.ForeignKey("webhooks.id"), nullable=False),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("pattern", sa.String(160), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", "pattern", name="pk_webhook_subscriptions"),
    )
    op.create_index("ix_webhook_subscriptions_org_id", "webhook_subscriptions", ["org_id"])
    op.create_table(
        "events",
        sa.Column("seq", BigSerial, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("ordering_key", sa.Text, nullable=False),
        sa.Column("actor", sa.String(63)),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("webhook_id", sa.Uuid, sa.ForeignKey("webhooks.id")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BigSerial, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("webhook_id", sa.Uuid, sa.ForeignKey("webhooks.id"), nullable=False),
        sa.Column("event_seq", sa.BigInteger, sa.ForeignKey("events.seq"), nullable=False),
        sa.Column("ordering_key", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("first_attempt_at", UTCDateTime),
        sa.Column("leased_until", UTCDateTime),
        sa.Column("lease_token", sa.String(32)),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed', 'cancelled')",
            name="ck_webhook_deliveries_state",
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text(_PENDING),
        sqlite_where=sa.text(_PENDING),
    )
    op.create_index(
        "ix_webhook_deliveries_queue",
        "webhook_deliveries",
        ["webhook_id", "ordering_key", "event_seq"],
        postgresql_where=sa.text(_PENDING),
        sqlite_where=sa.text(_PENDING),
    )
    op.create_index(
        "ix_webhook_deliveries_failed",
        "webhook_deliveries",
        ["webhook_id"],
        postgresql_where=sa.text("state = 'failed'"),
        sqlite_where=sa.text("state = 'failed'"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", BigSerial, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("webhook_id", sa.Uuid, sa.ForeignKey("webhooks.id"), nullable=False),
        sa.Column(
            "delivery_id", sa.BigInteger, sa.ForeignKey("webhook_deliveries.id"), nullable=False
        ),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("delivered", sa.Boolean, nullable=False),
    )
    op.create_index("ix_webhook_attempts_webhook_id_id", "webhook_attempts", ["webhook_id", "id"])
    op.create_table(
        "outbox_cursors",
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "stale_notices",
        sa.Column("record_id", sa.Uuid, sa.ForeignKey("deployment_records.id"), primary_key=True),
        sa.Column("org_id", sa.Uuid, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("noticed_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_stale_notices_org_id_noticed_at", "stale_notices", ["org_id", "noticed_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FAN_OUT_FUNCTION)
        op.execute(_PG_FAN_OUT_TRIGGER)
    else:
        op.execute(_SQLITE_FAN_OUT_TRIGGER)


def downgrade() -> None:
    bind = op.get_bind()
    for table in (
        "outbox_cursors",
        "stale_notices",
        "webhook_attempts",
        "webhook_deliveries",
        "events",
        "webhook_subscriptions",
        "webhooks",
    ):
        op.drop_table(table)
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS deploytrace_events_fan_out()")
