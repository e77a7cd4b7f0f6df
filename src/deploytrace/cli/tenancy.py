"""`deploytrace token ...` and `deploytrace audit ...`."""

from __future__ import annotations

import sys

import click

from deploytrace.cli import lists, output
from deploytrace.cli.client import segment
from deploytrace.cli.main import State, common_options

_TOKEN_COLUMNS: list[output.Column] = [
    ("NAME", lambda t: t["name"], 9),
    ("ROLE", lambda t: t["role"], 9),
    ("CREATED", lambda t: output.relative(t["created_at"]), 5),
    ("EXPIRES", lambda t: t["expires_at"][:10] if t["expires_at"] else "never", 7),
    ("LAST USED", lambda t: output.relative(t["last_used_at"]), 6),
    ("REVOKED", lambda t: output.relative(t["revoked_at"]) if t["revoked_at"] else "-", 4),
]

_AUDIT_COLUMNS: list[output.Column] = [
    ("#", lambda e: str(e["position"]), 9),
    ("TIME", lambda e: e["time"][:19].replace("T", " "), 8),
    ("ACTOR", lambda e: e["actor"], 7),
    ("ACTION", lambda e: e["action"], 9),
    ("TARGET", lambda e: e["target"], 6),
]


@click.group(help="API tokens of your organization (server mode).")
def token() -> None:
    pass


@token.command(help="Create a token; its secret is printed once.")
@click.option("--name", required=True, help="Token name (DNS-1123 label), e.g. ci-east.")
@click.option("--role", required=True, type=click.Choice(["admin", "writer", "viewer"]))
@click.option("--expires-in", default=None, help="Lifetime, e.g. 90d, 12h, 1w. Default: never.")
@common_options
def create(state: State, name: str, role: str, expires_in: str | None) -> None:
    body = {"name": name, "role": role, "expires_in": expires_in}
    created = state.client.call("POST", "/v1/tokens", json_body=body)
    if state.json:
        output.emit_json(created)
        return
    click.echo(f"token {created['name']} ({created['role']})")
    click.echo(created["token"])
    click.echo("The secret is shown once; store it now.", err=True)


@token.command(name="list", help="List tokens (never their secrets).")
@click.option("--revoked", is_flag=True, help="Include revoked tokens.")
@common_options
def list_(state: State, revoked: bool) -> None:
    items = state.client.call("GET", "/v1/tokens", params={"revoked": revoked or None})["items"]
    if state.json:
        output.emit_json(items)
    else:
        output.table(items, _TOKEN_COLUMNS, "no tokens")


@token.command(help="Revoke a token by name or id; refused from its next request on.")
@click.argument("name_or_id")
@common_options
def revoke(state: State, name_or_id: str) -> None:
    revoked = state.client.call("DELETE", f"/v1/tokens/{segment(name_or_id)}")
    if state.json:
        output.emit_json(revoked)
    else:
        click.echo(f"revoked token {revoked['name']}")


@click.group(help="The tamper-evident audit log: who changed what, when.")
def audit() -> None:
    pass


@audit.command(name="list", help="Audit entries, newest first.")
@click.option("--since", default=None, help="RFC 3339 time, e.g. 2026-11-25T00:00:00Z.")
@click.option("--action", default=None, help="e.g. deployment.created, token.revoked.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@common_options
def audit_list(state: State, since: str | None, action: str | None, limit: int | None) -> None:
    params = {"since": since, "action": action}
    lists.show(state, "/v1/audit", _AUDIT_COLUMNS, "no audit entries", params=params, limit=limit)


@audit.command(help="Check the hash chain: exit 0 when intact, 1 naming the first broken entry.")
@common_options
def verify(state: State) -> None:
    verdict = state.client.call("GET", "/v1/audit/verify")
    if state.json:
        output.emit_json(verdict)
    elif verdict["intact"]:
        click.echo(f"audit log intact: {verdict['entries']} entries, head {verdict['head']}")
    if not verdict["intact"]:
        sys.stderr.write(
            f"error: audit log broken at entry {verdict['first_broken']}: {verdict['reason']}\n"
        )
        sys.exit(1)
