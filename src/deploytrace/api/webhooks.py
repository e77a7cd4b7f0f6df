"""/v1/webhooks: subscriptions to the organization's events (admin role)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.api.runtime import Runtime
from deploytrace.errors import InvalidInput
from deploytrace.services import webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
_errors = responses(401, 403, 404, 409, 413, 422, 503)


async def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


CurrentRuntime = Annotated[Runtime, Depends(_runtime)]


def _server_only(runtime: Runtime) -> None:
    if runtime.local_actor is not None:
        raise InvalidInput(
            "webhooks need server mode: events are delivered by `deploytrace server`; "
            "point the CLI at a server with --server URL (or DEPLOYTRACE_SERVER)"
        )


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=4096)
    events: list[str] | None = Field(
        default=None, max_length=64, description="Event type patterns with *; none: every event"
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: dt.datetime
    created_by: str
    removed_at: dt.datetime | None

    @classmethod
    def of(cls, info: webhooks.WebhookInfo) -> WebhookOut:
        return cls.model_validate({**info.__dict__, "id": str(info.id)})


class NewWebhook(WebhookOut):
    secret: str = Field(description="whsec_…, for verifying signatures; shown this once")


class WebhookList(BaseModel):
    items: list[WebhookOut]
    next_cursor: None = None


class AttemptOut(BaseModel):
    event_id: str
    type: str
    subject: str
    attempt: int
    at: dt.datetime
    status_code: int | None
    error: str | None
    delivered: bool
    state: str = Field(description="The delivery now: pending, delivered, failed or cancelled")

    @classmethod
    def of(cls, row: webhooks.Attempt) -> AttemptOut:
        return cls(
            event_id=str(row.event_id),
            type=row.type,
            subject=row.subject,
            attempt=row.attempt,
            at=row.at,
            status_code=row.status_code,
            error=row.error,
            delivered=row.delivered,
            state=row.state,
        )


class AttemptList(BaseModel):
    items: list[AttemptOut]
    next_cursor: str | None


@router.post("", status_code=status.HTTP_201_CREATED, responses=_errors)
def create_webhook(
    body: WebhookIn, db: DB, caller: CurrentCaller, runtime: CurrentRuntime
) -> NewWebhook:
    """Subscribe a URL to events; the signing secret is in this answer only."""
    _server_only(runtime)
    actor = caller.actor()
    info, secret = webhooks.create(
        db,
        actor,
        url=body.url,
        events=body.events,
        key=webhooks.signing_key(runtime.settings),
    )
    return NewWebhook.model_validate({**WebhookOut.of(info).model_dump(), "secret": secret})


@router.get("", responses=_errors)
def list_webhooks(db: DB, caller: CurrentCaller) -> WebhookList:
    """Live webhooks (never their secrets)."""
    return WebhookList(items=[WebhookOut.of(w) for w in webhooks.list_webhooks(db, caller.actor())])


@router.get("/{webhook_id}", responses=_errors)
def describe_webhook(webhook_id: str, db: DB, caller: CurrentCaller) -> WebhookOut:
    return WebhookOut.of(webhooks.get(db, caller.actor(), webhook_id))


@router.delete("/{webhook_id}", responses=_errors)
def remove_webhook(webhook_id: str, db: DB, caller: CurrentCaller) -> WebhookOut:
    """Stop sending to the webhook; its undelivered events are dropped."""
    return WebhookOut.of(webhooks.remove(db, caller.actor(), webhook_id))


@router.post("/{webhook_id}/test", responses=_errors)
def test_webhook(
    webhook_id: str, db: DB, caller: CurrentCaller, runtime: CurrentRuntime
) -> AttemptOut:
    """Send a `webhook.test` event now, once (no retries), and answer how it went."""
    _server_only(runtime)
    from deploytrace.events import sender
    from deploytrace.services import delivery

    settings = runtime.settings
    claimed = webhooks.start_test(db, caller.actor(), webhook_id, delivery.lease_seconds(settings))
    job = delivery.prepare(claimed, delivery.Signers(lambda: webhooks.signing_key(settings)))
    at = dt.datetime.now(dt.UTC)
    if job.problem is not None:
        outcome = sender.Outcome(None, job.problem, 0.0)
    else:
        outcome = sender.post_sync(claimed.url, job.headers(at), job.body, settings.webhook_timeout)
    delivery.settle(db, settings, [delivery.Done(job, outcome, at)], retry=False)
    return AttemptOut(
        event_id=str(claimed.event_id),
        type=claimed.type,
        subject=claimed.subject,
        attempt=1,
        at=at,
        status_code=outcome.status_code,
        error=outcome.error,
        delivered=outcome.delivered,
        state="delivered" if outcome.delivered else "failed",
    )


@router.get("/{webhook_id}/deliveries", responses=_errors)
def list_deliveries(
    webhook_id: str,
    db: DB,
    caller: CurrentCaller,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> AttemptList:
    """The webhook's delivery attempts, newest first."""
    page = webhooks.deliveries(db, caller.actor(), webhook_id, limit=limit, cursor=cursor)
    return AttemptList(items=[AttemptOut.of(a) for a in page.items], next_cursor=page.next_cursor)
