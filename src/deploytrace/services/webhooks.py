"""Webhooks (SPEC §11): subscriptions of an organization to its events.

A webhook's secret is made here, returned once by `create`, and stored sealed
(`deploytrace.events.secrets`): only delivery, which must sign with it, opens it.
Every change is audited (`webhook.created`, `webhook.removed`), and so is itself an
event that subscribed webhooks receive.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection

from deploytrace.errors import InvalidInput, NotFound
from deploytrace.events import patterns, urls
from deploytrace.events import secrets as webhook_secrets
from deploytrace.services import audit, pagination
from deploytrace.services.context import Action, Actor
from deploytrace.settings import Settings
from deploytrace.storage import outbox
from deploytrace.storage import webhooks as store
from deploytrace.storage.base import new_id, utcnow
from deploytrace.storage.db import Database

TEST = "webhook.test"
MAX_LIVE = 50


@dataclass(frozen=True)
class WebhookInfo:
    id: uuid.UUID
    url: str
    events: list[str]
    created_at: dt.datetime
    created_by: str
    removed_at: dt.datetime | None


def _info(hook: store.Webhook) -> WebhookInfo:
    return WebhookInfo(
        hook.id, hook.url, hook.events, hook.created_at, hook.created_by, hook.removed_at
    )


def signing_key(settings: Settings) -> bytes:
    """The server key that seals webhook secrets (environment, else the key file)."""
    return webhook_secrets.server_key(settings.secret_key, settings.key_file)


def create(
    db: Database, actor: Actor, *, url: str, events: list[str] | None, key: bytes
) -> tuple[WebhookInfo, str]:
    """Subscribe `url` to the events matching `events` (none: all); the secret, once."""
    actor.require(Action.ADMIN)
    checked_url = urls.webhook_url(url)
    chosen = patterns.validate(events)
    secret = webhook_secrets.new_secret()
    now = utcnow()
    hook = store.Webhook(
        id=new_id(),
        org_id=actor.org_id,
        url=checked_url,
        events=chosen,
        secret_sealed="",
        created_at=now,
        created_by=actor.name,
        removed_at=None,
    )
    hook = store.Webhook(
        **{**hook.__dict__, "secret_sealed": webhook_secrets.seal(key, secret, str(hook.id))}
    )
    with db.write() as conn:
        if len(store.live(conn, actor.org_id)) >= MAX_LIVE:
            raise InvalidInput(f"an organization has at most {MAX_LIVE} webhooks")
        outbox.start_cursor(conn, actor.org_id)
        store.insert_webhook(conn, hook, [patterns.to_like(p) for p in chosen])
        audit.append(
            conn,
            actor.org_id,
            actor.name,
            "webhook.created",
            f"webhook/{hook.id}",
            {"id": str(hook.id), "url": checked_url, "events": ",".join(chosen)},
        )
    return _info(hook), secret


def list_webhooks(db: Database, actor: Actor) -> list[WebhookInfo]:
    """The org's webhooks (admin), never their secrets."""
    actor.require(Action.ADMIN)
    with db.read() as conn:
        return [_info(h) for h in store.live(conn, actor.org_id)]


def _parse_id(webhook_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(webhook_id)
    except ValueError:
        raise NotFound(f"webhook {webhook_id[:64]!r} not found") from None


def _live(conn: Connection, actor: Actor, webhook_id: str) -> store.Webhook:
    hook = store.get(conn, actor.org_id, _parse_id(webhook_id))
    if hook is None or hook.removed_at is not None:
        raise NotFound(f"webhook {webhook_id[:64]!r} not found")
    return hook


def get(db: Database, actor: Actor, webhook_id: str) -> WebhookInfo:
    """One webhook by id (admin); NotFound for another org's or a removed one."""
    actor.require(Action.ADMIN)
    with db.read() as conn:
        return _info(_live(conn, actor, webhook_id))


def remove(db: Database, actor: Actor, webhook_id: str) -> WebhookInfo:
    """Stop sending to the webhook; its undelivered events are dropped."""
    actor.require(Action.ADMIN)
    now = utcnow()
    with db.write() as conn:
        hook = _live(conn, actor, webhook_id)
        store.remove(conn, hook.id, now)
        outbox.cancel_pending(conn, hook.id, now)
        audit.append(
            conn,
            actor.org_id,
            actor.name,
            "webhook.removed",
            f"webhook/{hook.id}",
            {"id": str(hook.id), "url": hook.url},
        )
    return _info(store.Webhook(**{**hook.__dict__, "removed_at": now}))


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of an event to a webhook."""

    event_id: uuid.UUID
    type: str
    subject: str
    attempt: int
    at: dt.datetime
    status_code: int | None
    error: str | None
    delivered: bool
    state: str  # the delivery now: pending, delivered, failed or cancelled


def deliveries(
    db: Database,
    actor: Actor,
    webhook_id: str,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> pagination.Page[Attempt]:
    """The webhook's delivery attempts, newest first (removed webhooks' too)."""
    actor.require(Action.ADMIN)
    size = pagination.limit(limit)
    before = pagination.decode(cursor, int)
    with db.read() as conn:
        hook = store.get(conn, actor.org_id, _parse_id(webhook_id))
        if hook is None:
            raise NotFound(f"webhook {webhook_id[:64]!r} not found")
        rows = outbox.attempts_page(conn, hook.id, before=before, limit=size + 1)
    found = pagination.page(rows, size, lambda a: a.id)
    return pagination.Page(
        [
            Attempt(
                a.event_id,
                a.type,
                a.subject,
                a.attempt,
                a.at,
                a.status_code,
                a.error,
                a.delivered,
                a.state,
            )
            for a in found.items
        ],
        found.next_cursor,
    )


def start_test(db: Database, actor: Actor, webhook_id: str, lease: float) -> outbox.Claimed:
    """Queue a `webhook.test` event for this webhook alone, leased to the caller to send now."""
    actor.require(Action.ADMIN)
    token = secrets.token_hex(16)
    with db.write() as conn:
        now = outbox.database_now(conn, utcnow())
        hook = _live(conn, actor, webhook_id)
        key = f"webhook/{hook.id}/test/{uuid.uuid4()}"
        delivery = outbox.emit_directed(
            conn,
            actor.org_id,
            hook.id,
            outbox.NewEvent(
                TEST,
                f"webhook/{hook.id}",
                {"webhook_id": str(hook.id), "actor": actor.name, "message": "a test event"},
                key,
            ),
            now,
            lease_until=now + dt.timedelta(seconds=lease),
            lease_token=token,
        )
        (claimed,) = outbox.load(conn, [delivery])
    return claimed
