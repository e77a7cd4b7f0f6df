"""`deploytrace webhook ...`: subscriptions to the organization's events (server mode)."""

from __future__ import annotations

import sys

import click

from deploytrace.cli import output
from deploytrace.cli.client import segment
from deploytrace.cli.main import State, common_options

_COLUMNS: list[output.Column] = [
    ("ID", lambda w: w["id"], 9),
    ("URL", lambda w: w["url"], 8),
    ("EVENTS", lambda w: ",".join(w["events"]), 7),
    ("CREATED", lambda w: output.relative(w["created_at"]), 5),
    ("BY", lambda w: w["created_by"], 4),
]

_ATTEMPT_COLUMNS: list[output.Column] = [
    ("AT", lambda a: a["at"][:19].replace("T", " "), 8),
    ("TYPE", lambda a: a["type"], 9),
    ("#", lambda a: str(a["attempt"]), 7),
    ("STATUS", lambda a: str(a["status_code"] or "-"), 7),
    ("RESULT", lambda a: "delivered" if a["delivered"] else (a["error"] or "failed"), 8),
    ("NOW", lambda a: a["state"], 6),
    ("EVENT", lambda a: a["event_id"], 3),
]


@click.group(help="Webhooks: signed CloudEvents to other systems (server mode).")
def webhook() -> None:
    pass


@webhook.command(help="Subscribe a URL to events; the signing secret is printed once.")
@click.option("--url", required=True, help="https://… (http:// only to localhost/127.0.0.1).")
@click.option(
    "--event",
    "events",
    multiple=True,
    help="Event type pattern, * for any text (deployment.*); repeatable. Default: all.",
)
@common_options
def create(state: State, url: str, events: tuple[str, ...]) -> None:
    body = {"url": url, "events": list(events) or None}
    created = state.client.call("POST", "/v1/webhooks", json_body=body)
    shown = {k: created[k] for k in ("id", "url", "events", "secret")}
    if state.json:
        output.emit_json(shown)
        return
    click.echo(f"webhook {shown['id']}")
    click.echo(f"url:    {shown['url']}")
    click.echo(f"events: {', '.join(shown['events'])}")
    click.echo(f"secret: {shown['secret']}")
    click.echo("The secret is shown once; give it to the receiver to verify signatures.", err=True)


@webhook.command(name="list", help="List webhooks (never their secrets).")
@common_options
def list_(state: State) -> None:
    items = state.client.call("GET", "/v1/webhooks")["items"]
    if state.json:
        output.emit_json(items)
    else:
        output.table(items, _COLUMNS, "no webhooks")


@webhook.command(help="Remove a webhook; its undelivered events are dropped.")
@click.argument("webhook_id")
@common_options
def remove(state: State, webhook_id: str) -> None:
    removed = state.client.call("DELETE", f"/v1/webhooks/{segment(webhook_id)}")
    if state.json:
        output.emit_json(removed)
    else:
        click.echo(f"removed webhook {removed['id']} ({removed['url']})")


@webhook.command(help="Send a webhook.test event now: exit 0 when the receiver took it.")
@click.argument("webhook_id")
@common_options
def test(state: State, webhook_id: str) -> None:
    attempt = state.client.call("POST", f"/v1/webhooks/{segment(webhook_id)}/test")
    if state.json:
        output.emit_json(attempt)
    elif attempt["delivered"]:
        click.echo(f"delivered: HTTP {attempt['status_code']} (event {attempt['event_id']})")
    if not attempt["delivered"]:
        sys.stderr.write(f"error: test event not delivered: {attempt['error']}\n")
        sys.exit(1)


@webhook.command(help="Delivery attempts of a webhook, newest first.")
@click.argument("webhook_id")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@common_options
def deliveries(state: State, webhook_id: str, limit: int | None) -> None:
    params = {"limit": min(limit, 500) if limit else 500}
    items = state.client.pages(f"/v1/webhooks/{segment(webhook_id)}/deliveries", params, limit)
    if state.json:
        output.emit_json(items)
    else:
        output.table(items, _ATTEMPT_COLUMNS, "no delivery attempts")
