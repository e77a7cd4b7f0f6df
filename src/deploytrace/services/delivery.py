"""Delivering the outbox: fan audit entries out, claim due deliveries, build what each
attempt sends, settle.

The attempt itself (HTTP) is the caller's: the server's delivery worker
(`api.workers`) or `webhook test`. Leases last long enough for one attempt and the
write of its result; a worker that dies mid-attempt leaves its deliveries to be
claimed again when their leases end (at least once).
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from deploytrace.errors import InvalidInput
from deploytrace.events import message, schedule
from deploytrace.events import secrets as webhook_secrets
from deploytrace.events.sender import Outcome
from deploytrace.settings import Settings
from deploytrace.storage import outbox
from deploytrace.storage.base import utcnow
from deploytrace.storage.db import Database


def lease_seconds(settings: Settings) -> float:
    """How long a claimed delivery stays leased to one worker (twice the timeout, plus slack)."""
    return 2 * settings.webhook_timeout + 5


@dataclass(frozen=True)
class Job:
    """One attempt to make: where, what, and how to sign it."""

    claimed: outbox.Claimed
    body: bytes
    content_type: str
    signer: message.Signer | None
    problem: str | None = None  # why it cannot be sent (the secret does not open)

    @property
    def message_id(self) -> str:
        return str(self.claimed.event_id)

    def headers(self, now: dt.datetime) -> dict[str, str]:
        assert self.signer is not None
        signed = self.signer.headers(self.message_id, self.body, now)
        return {**signed, "content-type": self.content_type}


@dataclass
class Signers:
    """Opened secrets by webhook, so that a busy webhook's secret is opened once.

    The server key is read when the first secret is opened: a server that has no
    webhook to deliver to never needs (or makes) a key file.
    """

    load_key: Callable[[], bytes]
    _key: bytes | None = None
    _opened: dict[tuple[uuid.UUID, str], message.Signer] = field(default_factory=dict)

    def get(self, webhook_id: uuid.UUID, sealed: str) -> message.Signer:
        signer = self._opened.get((webhook_id, sealed))
        if signer is None:
            if self._key is None:
                self._key = self.load_key()
            secret = webhook_secrets.unseal(self._key, sealed, str(webhook_id))
            signer = self._opened[(webhook_id, sealed)] = message.Signer(secret)
        return signer


def prepare(claimed: outbox.Claimed, signers: Signers) -> Job:
    """The signed request for one claimed delivery (headers and CloudEvents body)."""
    event = message.Event(
        id=str(claimed.event_id),
        type=claimed.type,
        subject=claimed.subject,
        data=claimed.data,
        created_at=claimed.created_at,
        org=claimed.org,
        actor=claimed.actor,
    )
    body, content_type = message.body(event)
    try:
        signer = signers.get(claimed.webhook_id, claimed.secret_sealed)
    except (webhook_secrets.SealedSecretError, InvalidInput, OSError) as error:
        # Not sent, and retried like a failed attempt: the operator can fix the key.
        return Job(claimed, body, content_type, None, f"cannot sign: {error}")
    return Job(claimed, body, content_type, signer)


def fan_out(db: Database) -> int:
    """Turn audit entries committed since the last call into events and deliveries
    (for organizations with webhooks); how many entries were read."""
    total = 0
    while True:
        with db.write() as conn:
            read = outbox.fan_out(conn)
        total += read
        if not read:
            return total


def claim(db: Database, settings: Settings, signers: Signers, limit: int) -> list[Job]:
    """Lease up to `limit` due deliveries, oldest due first, each first in its queue."""
    with db.write() as conn:
        now = outbox.database_now(conn, utcnow())
        claimed = outbox.claim(
            conn,
            now=now,
            limit=limit,
            lease_until=now + dt.timedelta(seconds=lease_seconds(settings)),
            lease_token=secrets.token_hex(16),
        )
    return [prepare(c, signers) for c in claimed]


@dataclass(frozen=True)
class Done:
    job: Job
    outcome: Outcome
    at: dt.datetime  # when the attempt started


@dataclass(frozen=True)
class Settled:
    delivered: int
    retried: int
    given_up: int


def settle(
    db: Database, settings: Settings, done: Sequence[Done], *, retry: bool = True
) -> Settled:
    """Record attempts; reschedule failures by the retry schedule (or give up)."""
    now = utcnow()
    results = []
    counts = {"delivered": 0, "retried": 0, "given_up": 0}
    for d in done:
        c = d.job.claimed
        delivered = d.outcome.delivered
        next_at = None
        if not delivered and retry:
            next_at = schedule.next_attempt(
                c.attempt, c.first_attempt_at, now, scale=settings.webhook_time_scale
            )
        counts["delivered" if delivered else "retried" if next_at else "given_up"] += 1
        results.append(
            outbox.Result(
                delivery_id=c.delivery_id,
                lease_token=c.lease_token,
                org_id=c.org_id,
                webhook_id=c.webhook_id,
                ordering_key=c.ordering_key,
                attempt=c.attempt,
                at=d.at,
                status_code=d.outcome.status_code,
                error=d.outcome.error,
                delivered=delivered,
                next_attempt_at=next_at,
            )
        )
    with db.write() as conn:
        outbox.finish(conn, results, now)
    return Settled(**counts)
