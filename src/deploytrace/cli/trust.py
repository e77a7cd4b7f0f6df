"""`deploytrace trust add-key|add-root|list|remove`: what signatures are trusted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from deploytrace.cli import output
from deploytrace.cli.client import segment
from deploytrace.cli.main import State, common_options


@click.group(help="Keys and Sigstore roots this organization trusts for signatures.")
def trust() -> None:
    pass


_COLUMNS: list[output.Column] = [
    ("NAME", lambda t: t["name"] + (" (built in)" if t["builtin"] else ""), 9),
    ("KIND", lambda t: t["kind"], 8),
    ("FINGERPRINT", lambda t: output.short_digest(t["fingerprint"]), 6),
    ("ADDED", lambda t: output.relative(t["created_at"]), 4),
]


def _show(state: State, entry: dict[str, Any]) -> None:
    if state.json:
        output.emit_json(entry)
    else:
        click.echo(f"trusted {entry['kind']} {entry['name']} ({entry['fingerprint']})")


@trust.command(
    name="add-key", help="Trust a public key (PEM: ECDSA, RSA, Ed25519) for DSSE signatures."
)
@click.argument("pem", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="A name for the key (DNS-1123 label).")
@common_options
def add_key(state: State, pem: str, name: str) -> None:
    text = Path(pem).read_bytes().decode("utf-8", errors="replace")
    _show(state, state.client.call("POST", "/v1/trust/keys", json_body={"name": name, "pem": text}))


@trust.command(name="add-root", help="Trust a Sigstore instance by its trusted_root.json.")
@click.argument("trusted_root", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="A name for the root (DNS-1123 label).")
@common_options
def add_root(state: State, trusted_root: str, name: str) -> None:
    text = Path(trusted_root).read_bytes().decode("utf-8", errors="replace")
    body = {"name": name, "trusted_root": text}
    _show(state, state.client.call("POST", "/v1/trust/roots", json_body=body))


@trust.command(name="list", help="List trusted keys and roots.")
@common_options
def list_(state: State) -> None:
    items = state.client.call("GET", "/v1/trust")["items"]
    if state.json:
        output.emit_json(items)
    else:
        output.table(items, _COLUMNS, "nothing trusted")


@trust.command(
    name="remove",
    help="Stop trusting a key or root. Stored verdicts keep what they said at push time.",
)
@click.argument("name")
@common_options
def remove(state: State, name: str) -> None:
    state.client.call("DELETE", f"/v1/trust/{segment(name)}")
    if state.json:
        output.emit_json({"name": name, "removed": True})
    else:
        click.echo(f"removed {name}")
