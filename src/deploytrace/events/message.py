"""What a delivery sends: a CloudEvents 1.0 JSON body, signed the Standard Webhooks way.

Both through their maintained libraries (`cloudevents`, `standardwebhooks`), so
the bytes are what any CloudEvents reader and any Standard Webhooks verifier expect.
The body is built once per delivery from the stored event, so every attempt sends
the same bytes; each attempt signs them with its own timestamp.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cloudevents.core.bindings.http import to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from standardwebhooks.webhooks import Webhook

TYPE_PREFIX = "dev.deploytrace."
_FORMAT = JSONFormat()
_SLOT_FIELDS = ("environment", "logical_environment", "deployment_name", "kind")


@dataclass(frozen=True)
class Event:
    """An outbox event as stored."""

    id: str
    type: str  # the audit action, e.g. deployment.created
    subject: str
    data: dict[str, Any]
    created_at: dt.datetime
    org: str
    actor: str | None = None  # who made the change (audited events)


def cloud_event_data(event: Event) -> dict[str, Any]:
    """The event's data, with who made the change; a deployment slot is also spelled
    out field by field."""
    data = dict(event.data)
    if event.actor is not None:
        data.setdefault("actor", event.actor)
    slot = data.get("slot")
    if isinstance(slot, str) and slot.count("/") == 3:
        for name, value in zip(_SLOT_FIELDS, slot.split("/"), strict=True):
            data.setdefault(name, value)
    return data


def body(event: Event) -> tuple[bytes, str]:
    """The structured-mode CloudEvent and its content type."""
    cloud = CloudEvent(
        {
            "id": event.id,
            "source": f"/orgs/{event.org}",
            "type": TYPE_PREFIX + event.type,
            "subject": event.subject,
            "time": event.created_at,
            "datacontenttype": "application/json",
        },
        cloud_event_data(event),
    )
    message = to_structured(cloud, _FORMAT)
    return message.body, message.headers["content-type"]


class Signer:
    """Signs bodies with one webhook's secret (`whsec_...`)."""

    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)

    def headers(self, message_id: str, payload: bytes, now: dt.datetime) -> dict[str, str]:
        timestamp = now.replace(microsecond=0)
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": self._webhook.sign(message_id, timestamp, payload.decode()),
        }
